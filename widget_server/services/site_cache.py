"""What the public doors need of a site, kept by each process.

Every widget request needs the site, its allowed origins, its reasons and offers. Loading them
costs several queries; they change only when an admin changes them. So each process keeps a
snapshot per site. Any change to a site, its origins, reasons or offers raises the site's
``config_version`` in the same transaction (a flush hook below). A snapshot is trusted for
``CHECK_SECONDS`` (one second); after that the next request asks the database one small
question — is the version still the snapshot's? — and loads a new snapshot when it is not.

So the process that makes a change sees it at once (its commit forgets its snapshots), and
every other process (another gunicorn worker, another machine) within a second; a public
request in between costs no query for the site at all.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, selectinload

from widget_server.models import Experiment, ExperimentVariant, Offer, Reason, Site, SiteOrigin


@dataclass(frozen=True)
class ReasonView:
    id: int
    key: str
    position: int
    labels: dict
    followup: dict | None
    requires_text: bool
    is_missing_feature: bool


@dataclass(frozen=True)
class OfferView:
    id: int
    key: str
    type: str
    position: int
    texts: dict
    discount_percent: int | None
    discount_months: int | None
    pause_months: int | None
    target_plan: str | None
    contact_url: str | None
    plans: list | None
    min_mrr: int | None
    max_mrr: int | None
    reason_ids: frozenset


@dataclass(frozen=True)
class ExperimentView:
    """A running experiment as the flow needs it: a holdout, or an A/B test of a reason's
    offers with its variants as ``(offer_id, offer_key, weight)``."""

    id: int
    kind: str
    salt: str
    holdout_percent: int | None
    reason_id: int | None
    variants: tuple[tuple[int, str, int], ...] = ()

    @classmethod
    def of(cls, experiment: Experiment) -> ExperimentView:
        return cls(
            experiment.id, experiment.kind, experiment.salt, experiment.holdout_percent,
            experiment.reason_id,
            tuple((v.offer_id, v.offer.key, v.weight) for v in experiment.variants),
        )  # fmt: skip


@dataclass(frozen=True)
class SiteView:
    """A read-only site as services read it (the same attribute names as :class:`Site`)."""

    id: int
    key: str
    name: str
    config_version: int
    secret_primary: str
    secret_secondary: str | None
    default_locale: str
    currency: str
    brand_color: str
    discount_window_days: int
    status_labels: dict
    anonymous_voting: bool
    webhook_url: str | None
    webhook_secret: str | None
    stripe_api_key: str | None = None
    stripe_apply_cancellations: bool = False
    allowed_origins: frozenset = field(default_factory=frozenset)
    reasons: tuple[ReasonView, ...] = ()
    offers: tuple[OfferView, ...] = ()
    experiments: tuple[ExperimentView, ...] = ()

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.secret_primary, self.secret_secondary) if s]

    def offers_for(self, reason_id: int) -> list[OfferView]:
        """The active offers of a reason, in the admin's order."""
        return [o for o in self.offers if reason_id in o.reason_ids]

    def reason(self, reason_id: int | None) -> ReasonView | None:
        """The active reason ``reason_id`` (None: archived, another site's, or none)."""
        return next((r for r in self.reasons if r.id == reason_id), None)

    def offer(self, offer_id: int | None = None, *, key: str | None = None) -> OfferView | None:
        """The active offer ``offer_id`` (or ``key``); None when archived or unknown."""
        if key is not None:
            return next((o for o in self.offers if o.key == key), None)
        return next((o for o in self.offers if o.id == offer_id), None)


# How long a process trusts a snapshot before it checks the site's version again; 0 checks on
# every request.
CHECK_SECONDS = 1.0
_clock = time.monotonic

# key -> (snapshot, monotonic time until which it is trusted without asking the database)
_snapshots: dict[str, tuple[SiteView, float]] = {}
_lock = threading.Lock()


def _snapshot(session: Session, site_id: int) -> SiteView:
    site = session.execute(
        sa.select(Site).where(Site.id == site_id).options(selectinload(Site.origins))
    ).scalar_one()
    reasons = session.scalars(
        sa.select(Reason)
        .where(Reason.site_id == site_id, Reason.archived_at.is_(None))
        .order_by(Reason.position, Reason.id)
    ).all()
    offers = session.scalars(
        sa.select(Offer)
        .where(Offer.site_id == site_id, Offer.archived_at.is_(None))
        .options(selectinload(Offer.reasons))
        .order_by(Offer.position, Offer.id)
    ).all()
    experiments = session.scalars(
        sa.select(Experiment)
        .where(Experiment.site_id == site_id, Experiment.status == "running")
        .options(selectinload(Experiment.variants).selectinload(ExperimentVariant.offer))
        .order_by(Experiment.id)
    ).all()
    return SiteView(
        id=site.id, key=site.key, name=site.name, config_version=site.config_version,
        secret_primary=site.secret_primary, secret_secondary=site.secret_secondary,
        default_locale=site.default_locale, currency=site.currency,
        brand_color=site.brand_color, discount_window_days=site.discount_window_days,
        status_labels=dict(site.status_labels or {}), anonymous_voting=site.anonymous_voting,
        webhook_url=site.webhook_url, webhook_secret=site.webhook_secret,
        stripe_api_key=site.stripe_api_key,
        stripe_apply_cancellations=site.stripe_apply_cancellations,
        allowed_origins=frozenset(o.origin for o in site.origins),
        reasons=tuple(
            ReasonView(r.id, r.key, r.position, dict(r.labels), r.followup, r.requires_text,
                       r.is_missing_feature)
            for r in reasons
        ),
        offers=tuple(
            OfferView(o.id, o.key, o.type, o.position, dict(o.texts), o.discount_percent,
                      o.discount_months, o.pause_months, o.target_plan, o.contact_url,
                      o.plans, o.min_mrr, o.max_mrr, frozenset(r.id for r in o.reasons))
            for o in offers
        ),
        experiments=tuple(ExperimentView.of(e) for e in experiments),
    )  # fmt: skip


def site_view(session: Session, key: str) -> SiteView | None:
    """The site with this key as this process knows it: the snapshot, while it is trusted
    (see ``CHECK_SECONDS``); else checked against the database's current version (one small
    query) and reloaded when that changed. None when no site has the key."""
    now = _clock()
    cached = _snapshots.get(key)
    if cached is not None and cached[1] > now:
        return cached[0]
    row = session.execute(_VERSION, {"key": key}).first()
    if row is None:
        return None
    if cached is not None and cached[0].config_version == row.config_version:
        view = cached[0]
    else:
        view = _snapshot(session, row.id)
    with _lock:
        _snapshots[key] = (view, now + CHECK_SECONDS)
    return view


_SITES = Site.__table__
# A Core statement (no ORM entity to load), run at most once a second per site and process.
_VERSION = sa.select(_SITES.c.id, _SITES.c.config_version).where(
    _SITES.c.key == sa.bindparam("key")
)


def forget_all() -> None:
    _snapshots.clear()


# What a site's snapshot holds besides the site itself (a Site raises its own version).
_WATCHED = (SiteOrigin, Reason, Offer, Experiment)


@event.listens_for(Session, "before_flush")
def _raise_versions(session: Session, _context, _instances) -> None:
    """A change to a site or to what its snapshot holds raises the site's version, in the
    same flush (the offer-reason links change with their offer, an A/B test's variants with
    their experiment)."""
    touched = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Site):
            if obj in session.dirty and session.is_modified(obj):
                obj.config_version = (obj.config_version or 0) + 1
        elif isinstance(obj, _WATCHED) and obj.site_id is not None:
            touched.add(obj.site_id)
    if touched:
        session.info.setdefault("keepkit_config_changed", set()).update(touched)


@event.listens_for(Session, "after_flush")
def _write_versions(session: Session, _context) -> None:
    touched = session.info.pop("keepkit_config_changed", set())
    if touched:
        session.connection().execute(
            sa.update(Site)
            .where(Site.id.in_(touched))
            .values(config_version=Site.config_version + 1)
        )
    if touched or any(isinstance(o, Site) and session.is_modified(o) for o in session.dirty):
        session.info[_CHANGED] = True


_CHANGED = "keepkit_site_config_written"


@event.listens_for(Session, "after_commit")
def _forget_after_commit(session: Session) -> None:
    """This process sees its own change at once: the next request loads a new snapshot."""
    if session.info.pop(_CHANGED, False):
        forget_all()


@event.listens_for(Session, "after_rollback")
def _nothing_written(session: Session) -> None:
    session.info.pop(_CHANGED, None)
