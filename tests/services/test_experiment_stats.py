"""The statistics behind the experiments' lift: Newcombe's interval, the planned size, and a
calibration run showing the interval covers the true lift as often as it claims."""

import random

import pytest

from widget_server.services.experiment_stats import (
    DEFAULT_PLANNED_SIZE,
    newcombe,
    planned_size,
    wilson,
)


def test_newcombe_matches_the_published_example():
    # Newcombe (1998), Statistics in Medicine 17, table II, example (a): 56/70 vs 48/80,
    # method 10: 0.0524 to 0.3339.
    lift = newcombe(56, 70, 48, 80)
    assert lift.estimate == pytest.approx(0.2)
    assert lift.ci_low == pytest.approx(0.0524, abs=5e-5)
    assert lift.ci_high == pytest.approx(0.3339, abs=5e-5)


def test_newcombe_stays_within_bounds_at_the_extremes():
    lift = newcombe(10, 10, 0, 10)  # example (h) of the paper: 0.6075 to 1.0000
    assert lift.ci_low == pytest.approx(0.6075, abs=5e-5) and lift.ci_high == 1.0
    assert newcombe(0, 0, 3, 10) is None


def test_wilson_interval_of_zero_successes_is_not_empty():
    low, high = wilson(0, 20)
    assert low == pytest.approx(0.0) and 0.15 < high < 0.17


def test_planned_size_follows_the_power_calculation():
    assert DEFAULT_PLANNED_SIZE == planned_size(0.30, 0.05) == 1377
    # Smaller effects need more customers (about four times for half the effect).
    assert 3.8 < planned_size(0.30, 0.025) / planned_size(0.30, 0.05) < 4.2
    with pytest.raises(ValueError):
        planned_size(0.9, 0.2)


def simulate(rng: random.Random, n: int, p: float) -> int:
    """Saves among ``n`` simulated flows whose customers stay with probability ``p``."""
    return sum(rng.random() < p for _ in range(n))


CASES = [  # (sessions offers, true rate offers, sessions holdout, true rate holdout)
    (400, 0.35, 400, 0.25),
    (900, 0.32, 100, 0.30),  # a 10 % holdout
    (150, 0.10, 150, 0.05),  # rare saves
    (300, 0.80, 120, 0.85),  # an offer that does harm
]


@pytest.mark.parametrize(("n1", "p1", "n2", "p2"), CASES)
def test_the_interval_covers_the_true_lift_in_95_percent_of_simulations(n1, p1, n2, p2):
    rng = random.Random(f"keepkit-{n1}-{p1}-{n2}-{p2}")
    runs, covered = 200, 0
    for _ in range(runs):
        lift = newcombe(simulate(rng, n1, p1), n1, simulate(rng, n2, p2), n2)
        covered += lift.ci_low <= p1 - p2 <= lift.ci_high
    message = (
        f"coverage {covered}/{runs} = {covered / runs:.1%} "
        f"(true lift {p1 - p2:+.2f}, n = {n1} vs {n2})"
    )
    print(message)
    assert covered >= 180, message


def test_calibration_through_the_sticky_assignment():
    """Whole simulated experiments: 1,000 customers split by the real assignment (a 20 %
    holdout, a new salt per experiment), each staying with the true rate of their arm."""
    from widget_server.services.experiments import HOLDOUT, holdout_arm
    from widget_server.services.site_cache import ExperimentView

    rng = random.Random("keepkit-assignment")
    true = {"offers": 0.30, HOLDOUT: 0.22}
    runs, covered, held = 200, 0, 0
    for run in range(runs):
        experiment = ExperimentView(run, "holdout", f"salt{run}", 20, None)
        saved = {"offers": 0, HOLDOUT: 0}
        sessions = {"offers": 0, HOLDOUT: 0}
        for customer_id in range(1, 1001):
            arm = holdout_arm(experiment, 7, customer_id)
            sessions[arm] += 1
            saved[arm] += rng.random() < true[arm]
        held += sessions[HOLDOUT]
        lift = newcombe(saved["offers"], sessions["offers"], saved[HOLDOUT], sessions[HOLDOUT])
        covered += lift.ci_low <= true["offers"] - true[HOLDOUT] <= lift.ci_high
    share = held / (runs * 1000)
    message = f"coverage {covered}/{runs} = {covered / runs:.1%}; holdout share {share:.1%}"
    print(message)
    assert covered >= 180, message
    assert 0.19 < share < 0.21, message
