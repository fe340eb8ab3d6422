"""Experiments on the cancellation flow: a holdout per site, A/B tests of offers per reason,
and their honest results.

Assignment is random per customer and sticky: a customer's arm is a stable hash of the
experiment's salt, the site and the customer, so the same customer lands in the same arm on
every flow for as long as the experiment runs, on every process, with nothing stored first.

docs/experiments.md explains what is counted and how the interval is computed.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from widget_server.errors import Conflict, NotFound, ValidationError
from widget_server.extensions import db
from widget_server.i18n import N_
from widget_server.models import (
    MAX_ID,
    CancellationSession,
    Experiment,
    ExperimentVariant,
    Offer,
    Reason,
    Site,
    offer_reasons,
    utcnow,
)
from widget_server.services import money
from widget_server.services.experiment_stats import (
    DEFAULT_PLANNED_SIZE,
    MAX_PLANNED_SIZE,
    MIN_PLANNED_SIZE,
    newcombe,
)
from widget_server.services.site_cache import ExperimentView, SiteView

log = logging.getLogger(__name__)

MAX_HOLDOUT_PERCENT = 50
MAX_WEIGHT = 100
MAX_VARIANTS = 5
HOLDOUT, OFFERS = "holdout", "offers"
RETENTION_DAYS = 30
ACTIVE = ("running", "paused")


# --- assignment ---------------------------------------------------------------------------


def bucket(salt: str, site_id: int, customer_id: int) -> float:
    """A number in [0, 1) fixed for this experiment (its salt), site and customer, spread
    uniformly over customers."""
    digest = hashlib.sha256(f"{salt}:{site_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def holdout_arm(holdout: ExperimentView, site_id: int, customer_id: int) -> str:
    """``"holdout"`` for ``holdout_percent`` % of customers, ``"offers"`` for the others."""
    share = (holdout.holdout_percent or 0) / 100
    return HOLDOUT if bucket(holdout.salt, site_id, customer_id) < share else OFFERS


def ab_variant(test: ExperimentView, site_id: int, customer_id: int) -> tuple[int, str]:
    """The customer's variant ``(offer_id, offer_key)``, by the variants' weights."""
    total = sum(weight for _, _, weight in test.variants)
    point = bucket(test.salt, site_id, customer_id) * total
    for offer_id, key, weight in test.variants:
        if point < weight:
            return offer_id, key
        point -= weight
    offer_id, key, _ = test.variants[-1]
    return offer_id, key


def _running(site: Site | SiteView) -> tuple[ExperimentView, ...]:
    if isinstance(site, SiteView):
        return site.experiments
    query = (
        sa.select(Experiment)
        .where(Experiment.site_id == site.id, Experiment.status == "running")
        .options(selectinload(Experiment.variants).selectinload(ExperimentVariant.offer))
        .order_by(Experiment.id)
    )
    return tuple(ExperimentView.of(e) for e in db.session.scalars(query))


def running_holdout(site: Site | SiteView) -> ExperimentView | None:
    """The site's running holdout, if any (from the process's snapshot for a SiteView)."""
    return next((e for e in _running(site) if e.kind == "holdout"), None)


def running_ab_test(site: Site | SiteView, reason_id: int) -> ExperimentView | None:
    """The running A/B test of ``reason``'s offers, if any."""
    return next((e for e in _running(site) if e.kind == "ab" and e.reason_id == reason_id), None)


# --- configuration --------------------------------------------------------------------------


def _note(experiment: Experiment, action: str, by: str) -> None:
    experiment.history = [
        *(experiment.history or []),
        {"action": action, "at": utcnow().isoformat(timespec="seconds"), "by": by},
    ]


def _whole(value, digits: int) -> int:
    """``value`` as a whole number when it is one to ``digits`` ASCII digits, else -1."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isascii() or not text.isdigit() or len(text) > digits:
        return -1
    return int(text)


def _planned(value) -> int:
    if value is None or value == "":
        return DEFAULT_PLANNED_SIZE
    size = _whole(value, 9)
    if not MIN_PLANNED_SIZE <= size <= MAX_PLANNED_SIZE:
        raise ValidationError(
            N_("The planned size must be a whole number from %(low)s to %(high)s sessions per arm"),
            params={"low": MIN_PLANNED_SIZE, "high": MAX_PLANNED_SIZE},
            code="invalid_planned_size",
        )
    return size


def list_experiments(site: Site) -> list[Experiment]:
    """The site's experiments, the active ones first, newest first."""
    query = (
        sa.select(Experiment)
        .where(Experiment.site_id == site.id)
        .options(
            selectinload(Experiment.variants).selectinload(ExperimentVariant.offer),
            selectinload(Experiment.reason),
            selectinload(Experiment.winner),
        )
        .order_by(sa.case((Experiment.status == "ended", 1), else_=0), Experiment.id.desc())
    )
    return list(db.session.scalars(query))


def get_experiment(site: Site, experiment_id) -> Experiment:
    """:raises NotFound: ``experiment_not_found`` unless the site has this experiment."""
    experiment = None
    if isinstance(experiment_id, int) and 0 < experiment_id <= MAX_ID:
        experiment = db.session.get(Experiment, experiment_id)
    if experiment is None or experiment.site_id != site.id:
        raise NotFound(N_("No such experiment"), code="experiment_not_found")
    return experiment


def current_holdout(site: Site) -> Experiment | None:
    """The site's holdout that is running or paused, if any."""
    return db.session.scalar(
        sa.select(Experiment).where(
            Experiment.site_id == site.id,
            Experiment.kind == "holdout",
            Experiment.status.in_(ACTIVE),
        )
    )


def set_holdout(site: Site, percent, *, by: str, planned_size=None) -> Experiment | None:
    """Offer nothing to ``percent`` % of the site's customers (0 ends the holdout).

    A new share starts a new holdout (the previous one ends and stays in the history): results
    of one experiment never mix two shares. The same share again changes nothing.

    :raises ValidationError: ``invalid_percent`` unless a whole number from 0 to 50;
        ``invalid_planned_size``.
    """
    value = _whole(percent, 3)
    if not 0 <= value <= MAX_HOLDOUT_PERCENT:
        raise ValidationError(
            N_("The holdout must be a whole number of percent from 0 to %(high)s"),
            params={"high": MAX_HOLDOUT_PERCENT},
            code="invalid_percent",
        )
    size = _planned(planned_size)
    current = current_holdout(site)
    if current is not None and current.holdout_percent == value:
        return current
    if current is not None:
        _end(current, by)
    if value == 0:
        db.session.flush()
        return None
    experiment = Experiment(
        site_id=site.id, kind="holdout", status="running", name=f"Holdout {value} %",
        holdout_percent=value, salt=secrets.token_hex(8), planned_size=size, history=[],
        started_at=utcnow(),
    )  # fmt: skip
    _note(experiment, "started", by)
    db.session.add(experiment)
    db.session.flush()
    log.info("Site %s: holdout of %s %% started by %s", site.key, value, by)
    return experiment


def create_ab_test(
    site: Site, reason_id, variants: list[tuple], *, by: str, planned_size=None, name=None
) -> Experiment:
    """Start an A/B test of ``variants`` (``(offer_id, weight)`` pairs, the first is the
    reference) for one reason.

    :raises ValidationError: ``unknown_reason``, ``invalid_variants`` (fewer than two, an offer
        of another site or archived, twice the same, a weight outside 1-100),
        ``invalid_planned_size``.
    :raises Conflict: ``experiment_exists`` when the reason has a running or paused test.
    """
    reason = None
    if isinstance(reason_id, int) and 0 < reason_id <= MAX_ID:
        reason = db.session.get(Reason, reason_id)
    if reason is None or reason.site_id != site.id or reason.archived_at is not None:
        raise ValidationError(N_("Choose one of the site's reasons"), code="unknown_reason")
    chosen: list[tuple[Offer, int]] = []
    for offer_id, weight in variants:
        offer = None
        if isinstance(offer_id, int) and 0 < offer_id <= MAX_ID:
            offer = db.session.get(Offer, offer_id)
        if offer is None or offer.site_id != site.id or offer.archived_at is not None:
            raise ValidationError(N_("Choose the site's active offers"), code="invalid_variants")
        if not isinstance(weight, int) or not 1 <= weight <= MAX_WEIGHT:
            raise ValidationError(
                N_("Each weight must be a whole number from 1 to %(high)s"),
                params={"high": MAX_WEIGHT},
                code="invalid_variants",
            )
        if any(o.id == offer.id for o, _ in chosen):
            raise ValidationError(N_("Each offer can be one variant only"), code="invalid_variants")
        chosen.append((offer, weight))
    if not 2 <= len(chosen) <= MAX_VARIANTS:
        raise ValidationError(
            N_("An A/B test needs from 2 to %(high)s offers"),
            code="invalid_variants",
            params={"high": MAX_VARIANTS},
        )
    size = _planned(planned_size)
    busy = db.session.scalar(
        sa.select(Experiment.id).where(
            Experiment.site_id == site.id,
            Experiment.kind == "ab",
            Experiment.reason_id == reason.id,
            Experiment.status.in_(ACTIVE),
        )
    )
    if busy is not None:
        raise Conflict(
            N_("This reason has an A/B test already: end it first"), code="experiment_exists"
        )
    label = (reason.labels or {}).get("en") or reason.key
    experiment = Experiment(
        site_id=site.id, kind="ab", status="running", reason_id=reason.id,
        name=(name or "").strip()[:200] or f"{label}: " + " vs ".join(o.key for o, _ in chosen),
        salt=secrets.token_hex(8), planned_size=size, history=[], started_at=utcnow(),
        variants=[
            ExperimentVariant(offer_id=o.id, offer=o, weight=w, position=i)
            for i, (o, w) in enumerate(chosen)
        ],
    )  # fmt: skip
    _note(experiment, "started", by)
    db.session.add(experiment)
    db.session.flush()
    log.info("Site %s: A/B test %s started by %s", site.key, experiment.id, by)
    return experiment


def pause(experiment: Experiment, *, by: str) -> None:
    """Stop assigning customers (the flow shows the usual offers) until resumed.

    :raises Conflict: ``experiment_not_running``."""
    if experiment.status != "running":
        raise Conflict(N_("Only a running experiment can be paused"), code="experiment_not_running")
    experiment.status = "paused"
    _note(experiment, "paused", by)
    db.session.flush()


def resume(experiment: Experiment, *, by: str) -> None:
    """:raises Conflict: ``experiment_not_paused``."""
    if experiment.status != "paused":
        raise Conflict(N_("Only a paused experiment can be resumed"), code="experiment_not_paused")
    experiment.status = "running"
    _note(experiment, "resumed", by)
    db.session.flush()


def _end(experiment: Experiment, by: str) -> None:
    experiment.status = "ended"
    experiment.ended_at = utcnow()
    _note(experiment, "ended", by)


def end(experiment: Experiment, *, by: str, keep_offer_id=None) -> None:
    """End the experiment; its results stay. Ending an A/B test keeps the chosen variant as
    the reason's offer (the other variants are no longer offered for the reason).

    :raises Conflict: ``experiment_ended``.
    :raises ValidationError: ``invalid_variant`` for an A/B test without one of its variants.
    """
    if experiment.status == "ended":
        raise Conflict(N_("This experiment has ended already"), code="experiment_ended")
    if experiment.kind == "ab":
        variant = next((v for v in experiment.variants if v.offer_id == keep_offer_id), None)
        if variant is None:
            raise ValidationError(
                N_("Choose the variant to keep as the reason's offer"), code="invalid_variant"
            )
        _keep_variant(experiment, variant.offer)
        experiment.winner_offer_id = variant.offer_id
    _end(experiment, by)
    db.session.flush()
    log.info("Site %s: experiment %s ended by %s", experiment.site_id, experiment.id, by)


def _keep_variant(experiment: Experiment, kept: Offer) -> None:
    reason = experiment.reason
    others = [v.offer_id for v in experiment.variants if v.offer_id != kept.id]
    db.session.execute(
        sa.delete(offer_reasons).where(
            offer_reasons.c.reason_id == reason.id, offer_reasons.c.offer_id.in_(others)
        )
    )
    db.session.expire(reason, ["offers"])
    if reason not in kept.reasons:
        kept.reasons.append(reason)
    # First among the reason's offers: the flow shows the first one that fits.
    first = db.session.scalar(
        sa.select(sa.func.min(Offer.position)).where(
            Offer.site_id == experiment.site_id,
            Offer.id != kept.id,
            Offer.reasons.any(Reason.id == reason.id),
        )
    )
    if first is not None and first <= kept.position:
        kept.position = first - 1


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArmFigures:
    sessions: int = 0
    saved: int = 0
    mrr_kept: int = 0
    discount_cost: int = 0
    eligible_30: int = 0
    retained_30: int = 0


def _arm_figures(site: Site, experiment_column, arm_column) -> dict[tuple[int, str], ArmFigures]:
    """Per (experiment, arm): completed sessions, the saves among them (outcome ``saved``: an
    accepted offer, or "Keep my subscription" without one; a flow closed without a decision is
    no save), their MRR and the cost of the discounts accepted (MRR times percent times
    months), one query."""
    s = CancellationSession
    stayed = s.outcome == "saved"
    mrr = money.converted(site, s.mrr, s.currency)
    cost = (
        mrr
        * sa.func.coalesce(Offer.discount_percent, 0)
        * sa.func.coalesce(Offer.discount_months, 0)
    )
    query = (
        sa.select(
            experiment_column.label("experiment_id"),
            arm_column.label("arm"),
            sa.func.count().label("sessions"),
            sa.func.sum(sa.case((stayed, 1), else_=0)).label("saved"),
            sa.func.sum(sa.case((stayed, mrr), else_=0)).label("mrr_kept"),
            sa.func.sum(
                sa.case(((s.outcome == "saved") & (Offer.type == "discount"), cost), else_=0)
            ).label("cost"),
        )
        .select_from(s)
        .outerjoin(Offer, Offer.id == s.offer_id)
        .where(s.site_id == site.id, experiment_column.is_not(None), s.completed_at.is_not(None))
        .group_by(experiment_column, arm_column)
    )
    figures = {}
    for row in db.session.execute(query):
        figures[(row.experiment_id, row.arm)] = ArmFigures(
            sessions=row.sessions,
            saved=int(row.saved or 0),
            mrr_kept=int(row.mrr_kept or 0),
            discount_cost=round((row.cost or 0) / 100),
        )
    return figures


def _retention(site: Site, experiment_column, arm_column) -> dict[tuple[int, str], tuple]:
    """Per (experiment, arm): saves at least 30 days old, and those whose customer billing did
    not report cancelled within 30 days after the save (one query; the same rule as the Impact
    page, :func:`widget_server.services.impact.retention`). Without the host's lifecycle events
    every old save counts as retained: send them (POST /api/v1/events or the Stripe connector)
    for a true figure."""
    s = CancellationSession
    reported = s.billing_cancelled_after
    cancelled_within = sa.and_(reported.is_not(None), reported <= RETENTION_DAYS * 86400)
    query = (
        sa.select(
            experiment_column.label("experiment_id"),
            arm_column.label("arm"),
            sa.func.count().label("eligible"),
            sa.func.sum(sa.case((sa.not_(cancelled_within), 1), else_=0)).label("retained"),
        )
        .where(
            s.site_id == site.id,
            experiment_column.is_not(None),
            s.outcome == "saved",
            s.completed_at <= utcnow() - timedelta(days=RETENTION_DAYS),
        )
        .group_by(experiment_column, arm_column)
    )
    return {
        (row.experiment_id, row.arm): (row.eligible, int(row.retained or 0))
        for row in db.session.execute(query)
    }


def _arm_keys(experiment: Experiment) -> list[str]:
    if experiment.kind == "holdout":
        return [OFFERS, HOLDOUT]
    return [v.offer.key for v in experiment.variants]


def _lift(arm: dict, reference: dict) -> dict | None:
    lift = newcombe(arm["saved"], arm["sessions"], reference["saved"], reference["sessions"])
    if lift is None:
        return None
    return {"estimate": lift.estimate, "ci_low": lift.ci_low, "ci_high": lift.ci_high}


def results(site: Site, experiments: list[Experiment] | None = None) -> dict:
    """Every experiment of the site (or ``experiments``) with its arms' figures and lift.

    An arm: ``key``, ``sessions`` (completed), ``saved`` (outcome saved, with an offer or without),
    ``save_rate``, ``retained_30`` (its saves at least 30 days old whose customer had no
    ``subscription.cancelled`` within 30 days after; None when no save is that old),
    ``eligible_30`` (the saves that old),
    ``mrr_kept`` and ``discount_cost`` (minor units of the site's currency) and ``lift``
    against the reference arm (the holdout; an A/B test's first variant). The lift is shown
    only once every arm reached the planned size (``conclusive``): never a winner by peeking.
    Four queries, whatever the number of experiments and sessions.
    """
    if experiments is None:
        experiments = list_experiments(site)
    s = CancellationSession
    figures = _arm_figures(site, s.holdout_id, s.holdout_arm)
    figures.update(_arm_figures(site, s.ab_test_id, s.ab_arm))
    retention = _retention(site, s.holdout_id, s.holdout_arm)
    retention.update(_retention(site, s.ab_test_id, s.ab_arm))
    items = []
    for experiment in experiments:
        arms = []
        for key in _arm_keys(experiment):
            f = figures.get((experiment.id, key), ArmFigures())
            eligible, retained = retention.get((experiment.id, key), (0, 0))
            arms.append({
                "key": key, "sessions": f.sessions, "saved": f.saved,
                "save_rate": f.saved / f.sessions if f.sessions else 0.0,
                "retained_30": retained if eligible else None,
                "eligible_30": eligible,
                "mrr_kept": f.mrr_kept, "discount_cost": f.discount_cost,
            })  # fmt: skip
        reference = arms[-1] if experiment.kind == "holdout" else arms[0]
        reached = all(a["sessions"] >= experiment.planned_size for a in arms)
        for arm in arms:
            arm["lift"] = _lift(arm, reference) if reached and arm is not reference else None
        compared = arms[0] if experiment.kind == "holdout" else arms[1]
        items.append({
            "id": experiment.id, "kind": experiment.kind, "status": experiment.status,
            "name": experiment.name,
            "reason": {"id": experiment.reason.key, "label": experiment.reason.labels.get("en")}
            if experiment.reason
            else None,
            "holdout_percent": experiment.holdout_percent,
            "planned_size": experiment.planned_size,
            "started_at": experiment.started_at, "ended_at": experiment.ended_at,
            "kept": experiment.winner.key if experiment.winner else None,
            "history": list(experiment.history or []),
            "variant_ids": {v.offer.key: v.offer_id for v in experiment.variants},
            "arms": arms,
            "lift": compared["lift"],
            "conclusive": reached and compared["lift"] is not None,
        })  # fmt: skip
    return {"currency": site.currency, "items": items}
