"""The cancellation flow: start a session, record the answer, pick an offer, complete."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from widget_server.errors import Conflict, NotFound, ValidationError
from widget_server.extensions import db
from widget_server.i18n import N_, Text
from widget_server.models import (
    MAX_ID,
    CancellationSession,
    Customer,
    Offer,
    Reason,
    RoadmapItem,
    Site,
    utcnow,
)
from widget_server.services import experiments, jobs, lifecycle, notifications, roadmap, rollups
from widget_server.services.customers import known_customer
from widget_server.services.locales import pick_locale
from widget_server.services.site_cache import OfferView, ReasonView, SiteView
from widget_server.services.sql import as_stored, columns_of, insert_or_ignore, per_dialect
from widget_server.services.text import is_single_line, storable
from widget_server.services.tokens import CustomerClaims, issue_receipt

MAX_COMMENT = 2000


def active_reasons(site: Site | SiteView) -> list[Reason | ReasonView]:
    """The reasons customers choose from, in the admin's order (from the process's snapshot
    when ``site`` is one)."""
    if isinstance(site, SiteView):
        return list(site.reasons)
    query = (
        sa.select(Reason)
        .where(Reason.site_id == site.id, Reason.archived_at.is_(None))
        .order_by(Reason.position, Reason.id)
    )
    return list(db.session.scalars(query))


def _offers_for(site: Site | SiteView, reason) -> list:
    if isinstance(site, SiteView):
        return site.offers_for(reason.id)
    query = (
        sa.select(Offer)
        .where(
            Offer.site_id == site.id,
            Offer.archived_at.is_(None),
            Offer.reasons.any(Reason.id == reason.id),
        )
        .order_by(Offer.position, Offer.id)
    )
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class Choices:
    """What a customer chooses from when the flow starts: the active reasons in the admin's
    order, and the roadmap items (``{"id", "title"}``, most voted first) a missing-feature
    reason can name — none unless such a reason is active."""

    reasons: list[Reason | ReasonView]
    roadmap: list[dict]


def choices(site: Site | SiteView) -> Choices:
    """The start of the flow, for the widget and the hosted page alike."""
    reasons = active_reasons(site)
    missing_feature = any(r.is_missing_feature for r in reasons)
    # A snapshot view has the site's attribute names: the board reads it as a site.
    items = roadmap.missing_feature_items(cast(Site, site)) if missing_feature else []
    return Choices(reasons, items)


# Built once, run on the connection: whether the customer accepted a discount since a date,
# in another session (no autoflush: the session being answered is excluded anyway).
_RECENT_DISCOUNT = (
    sa.select(CancellationSession.id)
    .join(Offer, Offer.id == CancellationSession.offer_id)
    .where(
        CancellationSession.customer_id == sa.bindparam("customer_id"),
        CancellationSession.outcome == "saved",
        CancellationSession.id != sa.bindparam("exclude"),
        CancellationSession.completed_at >= sa.bindparam("since"),
        Offer.type == "discount",
    )
    .limit(1)
)


def _recent_discount(site: Site | SiteView, customer_id: int, exclude_session: int) -> bool:
    since = utcnow() - timedelta(days=site.discount_window_days)
    params = {"customer_id": customer_id, "exclude": exclude_session, "since": since}
    return db.session.connection().execute(_RECENT_DISCOUNT, params).first() is not None


def _fits(site: Site | SiteView, session: CancellationSession, offer, discounted: list) -> bool:
    """Whether ``offer`` targets the session's plan and MRR, and is no second discount within
    the site's window (``discounted`` caches that answer for the request)."""
    if offer.plans and session.plan not in offer.plans:
        return False
    if offer.min_mrr is not None and session.mrr < offer.min_mrr:
        return False
    if offer.max_mrr is not None and session.mrr > offer.max_mrr:
        return False
    if offer.type == "discount":
        if not discounted:
            discounted.append(_recent_discount(site, session.customer_id, session.id))
        if discounted[0]:
            return False
    return True


def eligible_offer(
    site: Site | SiteView, session: CancellationSession, reason: Reason | ReasonView
) -> Offer | OfferView | None:
    """The first active offer for ``reason`` that targets the session's plan and MRR.

    A customer who accepted a discount within the site's window gets no second discount.
    """
    discounted: list = []
    for offer in _offers_for(site, reason):
        if _fits(site, session, offer, discounted):
            return offer
    return None


def _experiment_offer(
    site: Site | SiteView, session: CancellationSession, reason: Reason | ReasonView
) -> tuple[Offer | OfferView | None, dict]:
    """The offer to show, with the site's experiments, and the session's A/B test columns to
    store: no offer for a customer in the holdout; the customer's variant when the reason has
    a running A/B test (recorded on the session, shown when it fits them); else the reason's
    first eligible offer."""
    no_test = {"ab_test_id": None, "ab_arm": None}
    if session.holdout_arm == experiments.HOLDOUT:
        return None, no_test
    test = experiments.running_ab_test(site, reason.id)
    if test is None:
        return eligible_offer(site, session, reason), no_test
    offer_id, key = experiments.ab_variant(test, site.id, session.customer_id)
    arm = {"ab_test_id": test.id, "ab_arm": key}
    offer: Offer | OfferView | None
    if isinstance(site, SiteView):
        offer = site.offer(offer_id)
    else:
        offer = db.session.get(Offer, offer_id)
        offer = offer if offer is not None and offer.archived_at is None else None
    return (offer if offer is not None and _fits(site, session, offer, []) else None), arm


_SESSIONS = CancellationSession.__table__


def _insert_session():
    return insert_or_ignore(_SESSIONS, ["public_id"]).returning(*_SESSIONS.c)


def start_session(
    site: Site, claims: CustomerClaims, *, locale: str | None, public_id: str | None = None
) -> tuple[CancellationSession, bool]:
    """Start (or, for a retried request with the same ``public_id``, return) a session.

    Returns the session and whether it was created.

    :raises ValidationError: ``invalid_session_id`` when ``public_id`` is not a UUID.
    :raises Conflict: ``session_conflict`` when the id belongs to another customer or site.
    """
    if public_id is not None:
        try:
            public_id = str(uuid.UUID(public_id))
        except ValueError as exc:
            raise ValidationError(
                N_("'session' must be a UUID"), code="invalid_session_id"
            ) from exc
    # A retried start (the same id) is found by the insert below, which then inserts nothing:
    # no read before it.
    locale = pick_locale(locale, site.default_locale)
    # Most customers who open the flow are new to Keepkit: the insert is tried first.
    customer = known_customer(site, claims, locale=locale, new_likely=True)
    tenure_days = None
    if customer.signed_up_at is not None:
        tenure_days = max(0, (utcnow() - customer.signed_up_at).days)
    public_id = public_id or str(uuid.uuid4())
    values = {
        "public_id": public_id,
        "site_id": site.id,
        "customer_id": customer.id,
        "plan": customer.plan,
        "mrr": customer.mrr,
        "currency": customer.currency,
        "attributes": dict(customer.attributes),
        "tenure_days": tenure_days,
        "locale": locale,
        "offers_shown": [],
        "started_at": utcnow(),
    }
    holdout = experiments.running_holdout(site)
    if holdout is not None:
        values["holdout_id"] = holdout.id
        values["holdout_arm"] = experiments.holdout_arm(holdout, site.id, customer.id)
    inserted = db.session.connection().execute(per_dialect("flow.start", _insert_session), values)
    row = inserted.first()
    if row is None:  # a retry, or the same request raced with itself and the other won
        winner = _by_public_id(public_id)
        if winner is None:  # ... and was rolled back since: the client may try again
            raise Conflict(
                N_("This session id is being started by another request"), code="session_conflict"
            )
        return _check_owner(winner, site, claims), False
    return as_stored(CancellationSession, row), True


def _by_public_id(public_id: str) -> CancellationSession | None:
    return db.session.scalar(
        sa.select(CancellationSession).where(CancellationSession.public_id == public_id)
    )


def _check_owner(session: CancellationSession, site: Site, claims: CustomerClaims):
    if session.site_id != site.id or session.customer.external_id != claims.sub:
        raise Conflict(
            N_("This session id is already used by another customer"), code="session_conflict"
        )
    return session


# Built once, run on the connection: the customer's session, locked, with the customer (whom
# the completion's webhook and receipt name) in the same round trip. The reason and offer come
# from the site's snapshot (see reason_of, offer_of).
_CUSTOMERS = Customer.__table__
_CUSTOMERS_SESSION = (
    sa.select(_SESSIONS, *columns_of(Customer, "customer__"))
    .join_from(_SESSIONS, _CUSTOMERS, _CUSTOMERS.c.id == _SESSIONS.c.customer_id)
    .where(
        _SESSIONS.c.public_id == sa.bindparam("public_id"),
        _SESSIONS.c.site_id == sa.bindparam("site_id"),
        _CUSTOMERS.c.external_id == sa.bindparam("sub"),
    )
    .with_for_update(of=_SESSIONS)
)


def get_session(site: Site, claims: CustomerClaims, public_id: str) -> CancellationSession:
    """The customer's session, read under a row lock for the answer or completion that
    follows (see :func:`_lock`).

    :raises NotFound: ``session_not_found`` unless the customer owns such a session."""
    try:
        public_id = str(uuid.UUID(str(public_id)))
    except ValueError:
        public_id = ""
    params = {"public_id": public_id, "site_id": site.id, "sub": claims.sub}
    db.session.flush()  # as an ORM query would: what the request changed is written first
    row = db.session.connection().execute(_CUSTOMERS_SESSION, params).first()
    if row is None:
        raise NotFound(
            N_("No such cancellation session for this customer"), code="session_not_found"
        )
    session = as_stored(CancellationSession, row)
    set_committed_value(session, "customer", as_stored(Customer, row, prefix="customer__"))
    db.session.info.setdefault(_LOCKED, set()).add(session.id)
    return session


def reason_of(site: Site | SiteView, session: CancellationSession) -> Reason | ReasonView | None:
    """The session's reason, from the site's snapshot when it is one (no query); read when
    archived since."""
    found = site.reason(session.reason_id) if isinstance(site, SiteView) else None
    return found or session.reason


def offer_of(site: Site | SiteView, session: CancellationSession) -> Offer | OfferView | None:
    """The session's accepted offer, from the site's snapshot when it is one (no query); read
    when archived since."""
    found = site.offer(session.offer_id) if isinstance(site, SiteView) else None
    return found or session.offer


_TEXT_NAMES = {"comment": N_("Your comment"), "followup_answer": N_("Your answer")}


def _clean_text(value: str | None, field: str) -> str | None:
    name = Text(_TEXT_NAMES[field])
    value = storable(value, field, name).strip()
    if len(value) > MAX_COMMENT:
        raise ValidationError(
            N_("%(field)s may be at most %(max)s characters"),
            params={"field": name, "max": MAX_COMMENT},
            code="text_too_long",
            details={field: f"at most {MAX_COMMENT} characters"},
        )
    return value or None


def answer_session(
    site: Site,
    session: CancellationSession,
    *,
    reason_key: str,
    comment: str | None = None,
    followup_answer: str | None = None,
    roadmap_item_id: int | None = None,
) -> Offer | OfferView | None:
    """Record the reason (and comment) and return the save offer to show, if any: none for a
    customer in the site's holdout, their variant in the reason's A/B test.

    Answering again before completing replaces the answer (the customer went back).

    :raises Conflict: ``session_completed`` once the session has an outcome.
    :raises ValidationError: ``unknown_reason``, ``comment_required``, ``text_too_long``,
        ``invalid_characters`` (a comment or answer with NUL) or ``unknown_roadmap_item`` (only
        public items of the site, only for a missing-feature reason).
    """
    _lock(session)
    if session.outcome is not None:
        raise Conflict(N_("This session is already completed"), code="session_completed")
    reason = None
    if isinstance(reason_key, str) and is_single_line(reason_key):
        reason = next((r for r in active_reasons(site) if r.key == reason_key), None)
    if reason is None:
        raise ValidationError(
            N_("%(reason)r is not one of this site's reasons"),
            params={"reason": reason_key},
            code="unknown_reason",
            details={"reason": "unknown"},
        )
    comment = _clean_text(comment, "comment")
    followup_answer = _clean_text(followup_answer, "followup_answer")
    if reason.requires_text and not comment:
        raise ValidationError(
            N_("Please tell us the reason in a few words"),
            code="comment_required",
            details={"comment": "required for this reason"},
        )
    if roadmap_item_id is not None:
        in_range = isinstance(roadmap_item_id, int) and 0 < roadmap_item_id <= MAX_ID
        item = db.session.get(RoadmapItem, roadmap_item_id) if in_range else None
        if (
            not reason.is_missing_feature
            or item is None
            or item.site_id != site.id
            or not item.public
            or item.moderation != "approved"
        ):
            raise ValidationError(
                N_("roadmap_item must be a public roadmap item, with a missing-feature reason"),
                code="unknown_roadmap_item",
                details={"roadmap_item": "unknown"},
            )
        roadmap_item_id = item.merged_into_id or item.id
    offer, arm = _experiment_offer(site, session, reason)
    shown = list(session.offers_shown or [])
    if offer is not None and offer.key not in shown:
        shown.append(offer.key)
    _store(
        session,
        {
            "roadmap_item_id": roadmap_item_id,
            "reason_id": reason.id,
            "comment": comment,
            "followup_answer": followup_answer,
            "answered_at": utcnow(),
            "offers_shown": shown,
            **arm,
        },
    )
    # The relationships follow the new ids when next read (from the identity map if there).
    db.session.expire(session, ["reason", "roadmap_item", "ab_test"])
    return offer


# Built once: a session's columns written by a Core UPDATE on the connection (the unit of
# work's flush of this one row cost more than the statement).
_UPDATE_SESSION = sa.update(CancellationSession).where(
    CancellationSession.id == sa.bindparam("b_id")
)


def _store(session: CancellationSession, values: dict, statement=_UPDATE_SESSION, **binds):
    """Write ``values`` (columns of the session) with one UPDATE (``statement``: one of this
    module's, with its other ``binds``) and keep them on the object as its stored state, so
    nothing is left for a flush. Returns the statement's result."""
    result = db.session.connection().execute(statement, {"b_id": session.id, **binds, **values})
    for name, value in values.items():
        set_committed_value(session, name, value)
    return result


_LOCKED = "keepkit_locked_sessions"


def _lock(session: CancellationSession) -> None:
    """Re-read the session under a row lock (PostgreSQL; SQLite write transactions are
    exclusive already), so that two requests for it at once take turns: a double-submitted
    completion is then idempotent and counted once in the rollups. A session read under the
    lock in this transaction already (:func:`get_session`) is not read again."""
    if session.id not in db.session.info.get(_LOCKED, ()):
        db.session.refresh(session, with_for_update=True)
        db.session.info.setdefault(_LOCKED, set()).add(session.id)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _locks_end(session, *_args) -> None:
    session.info.pop(_LOCKED, None)


_OFFER_BY_KEY = sa.select(Offer).where(
    Offer.site_id == sa.bindparam("site_id"), Offer.key == sa.bindparam("key")
)


def _offer_by_key(site: Site | SiteView, key: str) -> Offer | OfferView | None:
    """The site's offer ``key``: from the snapshot when active, else read (archived since it
    was shown: the customer still accepted it)."""
    found = site.offer(key=key) if isinstance(site, SiteView) else None
    return found or db.session.scalar(_OFFER_BY_KEY, {"site_id": site.id, "key": key})


def _decided():
    """The UPDATE of a completion with an outcome (saved, cancelled), which also links the
    customer's billing cancellation if it came first; returns the seconds to it (built once
    per database kind)."""

    def build():
        s = CancellationSession
        completed_at = sa.bindparam("b_completed_at", type_=s.completed_at.type)
        after = lifecycle.seconds_to_billing_cancellation(s.customer_id, completed_at)
        return (
            sa.update(s)
            .where(s.id == sa.bindparam("b_id"))
            .values(billing_cancelled_after=after)
            .returning(s.billing_cancelled_after)
        )

    return per_dialect("flow.decided", build)


def complete_session(
    site: Site, session: CancellationSession, *, outcome: str, offer_key: str | None = None
) -> CancellationSession:
    """Close the session with an outcome. Replaying the same completion changes nothing.
    ``saved`` without ``offer_key``: the customer chose to keep their subscription ("Keep my
    subscription"), a save without an offer.

    :raises ValidationError: ``invalid_outcome``, ``offer_not_shown``.
    :raises Conflict: ``session_completed`` when it was completed differently before.
    """
    if outcome not in ("cancelled", "saved", "dismissed"):
        raise ValidationError(
            N_("outcome must be cancelled, saved or dismissed"), code="invalid_outcome"
        )
    _lock(session)
    offer = None
    if outcome == "saved" and offer_key:
        if offer_key not in (session.offers_shown or []):
            raise ValidationError(
                N_("Offer %(offer)r was not shown in this session"),
                code="offer_not_shown",
                params={"offer": offer_key},
            )
        offer = _offer_by_key(site, offer_key)
        if offer is None:
            raise ValidationError(
                N_("Offer %(offer)r no longer exists"),
                code="offer_not_shown",
                params={"offer": offer_key},
            )
    if session.outcome is not None:
        stored = offer_of(site, session)
        same_offer = (stored.key if stored else None) == (offer.key if offer else None)
        if session.outcome == outcome and same_offer:
            return session
        raise Conflict(
            N_("This session was already completed as %(outcome)r"),
            code="session_completed",
            params={"outcome": session.outcome},
        )
    values = {"outcome": outcome, "offer_id": offer.id if offer else None, "completed_at": utcnow()}
    if outcome == "dismissed":
        _store(session, values)
    else:
        # Billing may have reported the cancellation before the flow ended (the host cancelled
        # first): the same UPDATE links it, no extra round trip.
        result = _store(session, values, _decided(), b_completed_at=values["completed_at"])
        set_committed_value(session, "billing_cancelled_after", result.scalar_one())
    db.session.expire(session, ["offer"])  # follows offer_id when read (see offer_of)
    rollups.add_session(site, session)
    reason = reason_of(site, session)
    notifications.enqueue_webhook(
        site,
        "cancellation.completed",
        {
            "session": session.public_id,
            "outcome": outcome,
            "reason": {"id": reason.key, "label": reason.labels.get("en")} if reason else None,
            "comment": session.comment,
            "offer": {"id": offer.key, "type": offer.type} if offer else None,
            "roadmap_item": session.roadmap_item_id,
            "customer": {
                "id": session.customer.external_id,
                "email": session.customer.email,
                "company": session.customer.company,
                "plan": session.plan,
            },
            "mrr": session.mrr,
            "currency": session.currency,
        },
        dedupe_key=f"completed:{session.public_id}",
        customer=session.customer,
    )
    if outcome == "cancelled" and site.stripe_api_key and site.stripe_apply_cancellations:
        # The site lets Keepkit end the subscription in Stripe (at period end): the worker
        # asks Stripe, not this request.
        jobs.enqueue(
            site, "stripe_cancel", {"customer_id": session.customer_id}, requested_by="Keepkit"
        )
    return session


def receipt(site: Site, session: CancellationSession) -> str:
    """The signed receipt of a completed session, which the host's backend can verify."""
    if session.outcome is None or session.completed_at is None:
        raise ValueError("a receipt is for completed sessions")
    offer = offer_of(site, session)
    return issue_receipt(
        site,
        sub=session.customer.external_id,
        session=session.public_id,
        outcome=session.outcome,
        offer=offer.key if offer else None,
        issued_at=session.completed_at,
    )
