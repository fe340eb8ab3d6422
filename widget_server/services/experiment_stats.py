"""The statistics of experiments: pure functions, no database.

- :func:`wilson`: the Wilson score interval of one proportion.
- :func:`newcombe`: the 95 % interval of a difference of two proportions by Newcombe's hybrid
  score method (his method 10, 1998): each proportion's Wilson interval, combined. It keeps its
  coverage near 95 % for small samples and rates near 0 or 1, where the textbook (Wald)
  interval is too narrow.
- :func:`planned_size`: sessions per arm for a two-sided test of two proportions at a given
  power (the usual normal-approximation formula), fixed before an experiment starts.

docs/experiments.md explains the method and its limits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

Z95 = NormalDist().inv_cdf(0.975)  # 1.959964…


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``successes / n`` (``(0, 1)`` when ``n`` is 0)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Lift:
    """A difference of two rates (``rate of the arm - rate of the reference``) and its 95 %
    interval."""

    estimate: float
    ci_low: float
    ci_high: float

    @property
    def excludes_zero(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0


def newcombe(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> Lift | None:
    """``x1/n1 - x2/n2`` with Newcombe's hybrid score interval; None when an arm is empty."""
    if n1 <= 0 or n2 <= 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Lift(d, max(-1.0, low), min(1.0, high))


def planned_size(baseline: float, effect: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Sessions per arm to detect ``baseline`` → ``baseline + effect`` with a two-sided test
    at level ``alpha`` and the given ``power`` (normal approximation, pooled variance under
    the null)."""
    if not 0 < baseline < 1 or not 0 < baseline + effect < 1 or effect == 0:
        raise ValueError("rates must lie strictly between 0 and 1 and differ")
    p1, p2 = baseline, baseline + effect
    mean = (p1 + p2) / 2
    z_alpha = NormalDist().inv_cdf(1 - alpha / 2)
    z_beta = NormalDist().inv_cdf(power)
    root = z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_beta * math.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2)
    )
    return math.ceil(root * root / (effect * effect))


# The default planned size: enough to see a save rate move from 30 % to 35 % (5 points) with
# 80 % power at the 5 % level. 1,377 completed sessions per arm.
DEFAULT_BASELINE, DEFAULT_EFFECT = 0.30, 0.05
DEFAULT_PLANNED_SIZE = planned_size(DEFAULT_BASELINE, DEFAULT_EFFECT)
MIN_PLANNED_SIZE, MAX_PLANNED_SIZE = 30, 10_000_000
