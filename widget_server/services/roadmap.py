"""The public roadmap: items, votes (one per customer per item), rankings, suggestions,
merging duplicates, and the notifications a status change sends."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from widget_server.errors import Conflict, NotFound, ValidationError
from widget_server.extensions import db
from widget_server.i18n import N_, CatalogTexts, Text
from widget_server.models import (
    MAX_ID,
    STATUSES,
    VOTABLE,
    VOTE_SOURCES,
    CancellationSession,
    Customer,
    OutboxMessage,
    RoadmapItem,
    Site,
    Subscription,
    Vote,
    utcnow,
)
from widget_server.services import metrics, notifications
from widget_server.services.locales import translate
from widget_server.services.money import converted
from widget_server.services.site_cache import SiteView
from widget_server.services.sql import insert_or_ignore, per_dialect, rowcount, upsert
from widget_server.services.text import render_markdown, single_line, storable

# The built-in labels, in every shipped locale from the catalogs; a site may override them.
STATUS_LABELS = {
    "under_consideration": CatalogTexts(N_("Under consideration")),
    "planned": CatalogTexts(N_("Planned")),
    "in_progress": CatalogTexts(N_("In progress")),
    "shipped": CatalogTexts(N_("Shipped")),
    "declined": CatalogTexts(N_("Declined")),
    "duplicate": CatalogTexts(N_("Duplicate")),
}
# How "Items that are … take no votes" names a status that takes no votes.
_NOT_VOTABLE = {"shipped": N_("shipped"), "declined": N_("declined"), "duplicate": N_("duplicate")}
NOTIFY_STATUSES = ("in_progress", "shipped")
RECENTLY_SHIPPED_DAYS = 90
SORTS = ("votes", "companies", "voters_mrr", "lost_mrr", "created")
_TARGET = re.compile(r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$")


def status_label(site: Site | SiteView, status: str, locale: str) -> str:
    """The site's own label for ``status`` in ``locale``, else the built-in one."""
    custom = (site.status_labels or {}).get(status) or {}
    return custom.get(locale) or translate(STATUS_LABELS[status], locale)


def _label_name(status: str, locale: str) -> Text:
    return Text(
        N_("The label for “%(status)s” (%(locale)s)"),
        status=Text(STATUS_LABELS[status].message),
        locale=locale,
    )


def set_roadmap_options(site: Site, *, labels: dict, anonymous_voting: bool) -> None:
    """Per-site status labels (``{status: {locale: label}}``; blank means the default) and
    whether voting without a token is allowed.

    :raises ValidationError: ``invalid_label`` for an unknown status or a label over 40 chars,
        ``invalid_characters`` for a label that is not a single line.
    """
    clean = {}
    for status, texts in labels.items():
        if status not in STATUSES or not isinstance(texts, dict):
            raise ValidationError(
                N_("Unknown status %(status)r"), code="invalid_label", params={"status": status}
            )
        texts = {
            loc: single_line(v, f"The {status} label ({loc})", _label_name(status, loc)).strip()
            for loc, v in texts.items()
        }
        texts = {loc: v for loc, v in texts.items() if v}
        if any(len(v) > 40 for v in texts.values()):
            raise ValidationError(
                N_("Status labels are at most 40 characters"), code="invalid_label"
            )
        if texts:
            clean[status] = texts
    site.status_labels = clean
    site.anonymous_voting = anonymous_voting
    db.session.flush()
    forget_board(site)


_CUSTOMERS, _VOTES = Customer.__table__, Vote.__table__


# --- items --------------------------------------------------------------------------------


def _not_found() -> NotFound:
    return NotFound("No such roadmap item", code="item_not_found")


def _item_id(item_id) -> int | None:
    """``item_id`` as an id the database can hold, or None (no item has it)."""
    try:
        number = int(item_id)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


def get_item(site: Site, item_id) -> RoadmapItem:
    """:raises NotFound: ``item_not_found`` unless the item belongs to the site."""
    number = _item_id(item_id)
    item = db.session.get(RoadmapItem, number) if number is not None else None
    if item is None or item.site_id != site.id:
        raise _not_found()
    return item


def is_visible(item: RoadmapItem | PublicItem) -> bool:
    """Whether customers may know the item exists: public and approved (pending and rejected
    suggestions and hidden items are the admins' only)."""
    return item.public and item.moderation == "approved"


@dataclass(frozen=True)
class PublicItem:
    """What a customer's vote needs of an item (the fields :func:`check_votable`,
    :func:`vote` and :func:`unvote` read), read without loading the whole item."""

    id: int
    site_id: int
    title: str
    status: str
    public: bool
    moderation: str
    merged_into_id: int | None
    suggested_by_id: int | None


_ITEMS = RoadmapItem.__table__
# Built once (a Core statement on the connection; the ORM's load of a whole item was a fifth
# of a vote): what a vote needs of the item, with its voter's stored row (the customer's
# columns under their own names, None when the site does not know them), in one round trip.
_PUBLIC_ITEM_AND_VOTER = (
    sa.select(
        *(_ITEMS.c[name].label(f"item__{name}") for name in PublicItem.__dataclass_fields__),
        _CUSTOMERS,
    )
    .select_from(
        _ITEMS.outerjoin(
            _CUSTOMERS,
            sa.and_(
                _CUSTOMERS.c.site_id == _ITEMS.c.site_id,
                _CUSTOMERS.c.external_id == sa.bindparam("sub"),
            ),
        )
    )
    .where(_ITEMS.c.id == sa.bindparam("id"), _ITEMS.c.site_id == sa.bindparam("site_id"))
)


def public_item_and_voter(site: Site, item_id, sub: str | None) -> tuple[PublicItem, Any]:
    """An item customers may see, and the stored row of the customer ``sub`` (None when the
    site has no such customer, or no ``sub``) for :func:`customers.current_customer`: one
    statement where a vote needed two.

    :raises NotFound: ``item_not_found`` for unknown, hidden, pending and rejected items alike,
        so the answer never tells that such an item exists.
    """
    number, row = _item_id(item_id), None
    if number is not None:
        params = {"id": number, "site_id": site.id, "sub": sub}
        row = db.session.connection().execute(_PUBLIC_ITEM_AND_VOTER, params).first()
    if row is None:
        raise _not_found()
    values = row._mapping
    item = PublicItem(**{name: values[f"item__{name}"] for name in PublicItem.__dataclass_fields__})
    if not is_visible(item):
        raise _not_found()
    return item, (row if values["id"] is not None else None)


def _clean_item_fields(fields: dict) -> dict:
    clean: dict[str, Any] = {}
    if "title" in fields:
        title = single_line(fields["title"], "title", Text(N_("The title"))).strip()
        if not title or len(title) > 200:
            raise ValidationError(
                N_("A title of 1 to 200 characters is required"),
                code="invalid_item",
                details={"title": "1-200 characters"},
            )
        clean["title"] = title
    if "description" in fields:
        description = storable(fields["description"], "description", Text(N_("The description")))
        if len(description) > 20000:
            raise ValidationError(
                N_("The description is too long"),
                code="invalid_item",
                details={"description": "max"},
            )
        clean["description"] = description
        clean["description_html"] = render_markdown(description)
    if "target" in fields:
        target = (
            single_line(fields["target"], "target", Text(N_("The target"))).strip().upper() or None
        )
        if target and not _TARGET.fullmatch(target):
            raise ValidationError(
                N_("target must be a month (2026-03) or a quarter (2026-Q2)"),
                code="invalid_item",
                details={"target": "YYYY-MM or YYYY-Qn"},
            )
        clean["target"] = target
    if "tags" in fields:
        tags = fields["tags"] or []
        if isinstance(tags, str):
            tags = tags.split(",")
        tags = [single_line(t, "tags", Text(N_("A tag"))).strip().lower()[:40] for t in tags]
        tags = list(dict.fromkeys(t for t in tags if t))
        clean["tags"] = tags[:20]
    if "public" in fields:
        clean["public"] = bool(fields["public"])
    if "status" in fields and fields["status"] not in STATUSES:
        raise ValidationError(
            N_("status must be one of %(choices)s"),
            code="invalid_status",
            params={"choices": ", ".join(STATUSES)},
            details={"status": "unknown"},
        )
    return clean


def create_item(site: Site, **fields) -> RoadmapItem:
    """Create a published (approved) item.

    :raises ValidationError: ``invalid_item``, ``invalid_characters`` (a title, target or tag
        that is not a single line, a description with NUL) or ``invalid_status``.
    """
    fields.setdefault("title", "")
    clean = _clean_item_fields(fields)
    item = RoadmapItem(site_id=site.id, status=fields.get("status") or "under_consideration")
    for name, value in clean.items():
        setattr(item, name, value)
    db.session.add(item)
    db.session.flush()
    forget_board(site)
    return item


def update_item(site: Site, item: RoadmapItem, **fields) -> int:
    """Update fields; a new ``status`` goes through :func:`change_status`. Returns the number
    of emails that queued (0 without a status change).

    :raises ValidationError: ``invalid_item``, ``invalid_characters`` (a title, target or tag
        that is not a single line, a description with NUL) or ``invalid_status``.
    """
    clean = _clean_item_fields(fields)
    for name, value in clean.items():
        setattr(item, name, value)
    item.updated_at = utcnow()
    queued = 0
    if fields.get("status") and fields["status"] != item.status:
        queued = change_status(site, item, fields["status"])
    db.session.flush()
    forget_board(site)
    return queued


@dataclass(frozen=True)
class Audience:
    """Who a status change would email: subscribed voters and churned customers (win-back)."""

    voters: int
    churned: int

    @property
    def total(self) -> int:
        return self.voters + self.churned


def _not_emailed(dedupe_prefix: str):
    """Customers who have not yet had the email whose dedupe key is ``prefix`` + their id."""
    key = sa.literal(dedupe_prefix) + sa.cast(Customer.id, sa.String)
    return ~sa.exists().where(OutboxMessage.dedupe_key == key)


def status_change_audience(site: Site, item: RoadmapItem, status: str) -> Audience:
    """How many people moving ``item`` to ``status`` would email (those already emailed for it
    are not emailed again, so they are not counted). Two counting queries at most."""
    if status == item.status or status not in STATUSES:
        return Audience(0, 0)
    voters = churned = 0
    if status in NOTIFY_STATUSES:
        voters = db.session.execute(
            sa.select(sa.func.count(sa.distinct(Customer.id)))
            .join(Subscription, Subscription.customer_id == Customer.id)
            .where(
                Subscription.item_id == item.id,
                Subscription.unsubscribed_at.is_(None),
                Customer.email.is_not(None),
                Customer.email != "",
                _not_emailed(f"email:{item.id}:{status}:"),
            )
        ).scalar_one()
    if status == "shipped":
        churned = db.session.execute(
            sa.select(sa.func.count(sa.distinct(Customer.id)))
            .join(CancellationSession, CancellationSession.customer_id == Customer.id)
            .where(
                CancellationSession.roadmap_item_id == item.id,
                CancellationSession.outcome == "cancelled",
                Customer.email.is_not(None),
                Customer.email != "",
                _not_emailed(f"email:{item.id}:winback:"),
            )
        ).scalar_one()
    return Audience(voters or 0, churned or 0)


def change_status(site: Site, item: RoadmapItem, status: str) -> int:
    """Move an item to ``status`` and queue what that tells people, in this transaction:
    voters' emails when work starts and when it ships, win-back emails to the customers who
    cancelled for it when it ships, and the ``roadmap_item.status_changed`` webhook.

    Returns the number of emails queued. Each (item, status, customer) email is queued once
    ever, so moving back and forth does not spam anyone.

    :raises ValidationError: ``invalid_status``.
    """
    if status not in STATUSES:
        raise ValidationError(
            N_("status must be one of %(choices)s"),
            code="invalid_status",
            params={"choices": ", ".join(STATUSES)},
        )
    previous = item.status
    if previous == status:
        return 0
    item.status = status
    item.status_changed_at = item.updated_at = utcnow()
    db.session.flush()
    forget_board(site)
    queued = 0
    if status in NOTIFY_STATUSES:
        voters = db.session.execute(
            sa.select(Customer.id, Customer.email)
            .join(Subscription, Subscription.customer_id == Customer.id)
            .where(Subscription.item_id == item.id, Subscription.unsubscribed_at.is_(None))
        ).all()
        queued += notifications.enqueue_emails(
            site,
            f"roadmap.{status}",
            [
                {
                    "dedupe_key": f"email:{item.id}:{status}:{cid}",
                    "to": email,
                    "payload": {
                        "template": "status",
                        "item_id": item.id,
                        "status": status,
                        "customer_id": cid,
                    },
                }
                for cid, email in voters
            ],
        )
    if status == "shipped":
        churned = db.session.execute(
            sa.select(Customer.id, Customer.email)
            .join(CancellationSession, CancellationSession.customer_id == Customer.id)
            .where(
                CancellationSession.roadmap_item_id == item.id,
                CancellationSession.outcome == "cancelled",
            )
            .distinct()
        ).all()
        queued += notifications.enqueue_emails(
            site,
            "roadmap.winback",
            [
                {
                    "dedupe_key": f"email:{item.id}:winback:{cid}",
                    "to": email,
                    "payload": {"template": "winback", "item_id": item.id, "customer_id": cid},
                }
                for cid, email in churned
            ],
        )
    notifications.enqueue_webhook(
        site,
        "roadmap_item.status_changed",
        {"item": {"id": item.id, "title": item.title}, "from": previous, "to": status},
        dedupe_key=f"status:{item.id}:{uuid.uuid4()}",
    )
    return queued


# --- votes --------------------------------------------------------------------------------


def _add_vote(values: dict) -> bool:
    """Insert a vote unless the customer has one for the item; whether one was inserted
    (RETURNING yields a row only then). A statement built once per database kind."""
    statement = per_dialect(
        "roadmap.add_vote",
        lambda: insert_or_ignore(Vote, ["item_id", "customer_id"]).returning(Vote.id),
    )
    return db.session.connection().execute(statement, values).first() is not None


def check_votable(item: RoadmapItem | PublicItem, *, staff: bool = False) -> None:
    """:raises NotFound: ``item_not_found`` for hidden items and pending or rejected
    suggestions (as for unknown ones); ``staff`` (a vote recorded by the team) may know hidden
    items and pending suggestions. :raises Conflict: ``item_not_votable``, saying why: a merged
    duplicate (vote on the original), a suggestion waiting for moderation, or a status that
    takes no votes (shipped, declined)."""
    if not is_visible(item) and (not staff or item.moderation == "rejected"):
        raise _not_found()
    if item.merged_into_id:
        original = db.session.get(RoadmapItem, item.merged_into_id)
        title = original.title if original is not None else ""
        raise Conflict(
            N_("This item was merged into “%(title)s”: votes go there"),
            params={"title": title},
            code="item_not_votable",
        )
    if item.moderation == "pending":
        raise Conflict(
            N_("This suggestion is waiting for moderation: approve it before it takes votes"),
            code="item_not_votable",
        )
    if item.status not in VOTABLE:
        raise Conflict(
            N_("Items that are %(status)s take no votes"),
            params={"status": Text(_NOT_VOTABLE[item.status])},
            code="item_not_votable",
        )


def vote(
    site: Site,
    item: RoadmapItem | PublicItem,
    customer: Customer,
    *,
    source: str = "widget",
) -> bool:
    """Add the customer's vote (idempotent, race-free) and subscribe them to the item.

    Returns whether a vote was added.

    :raises NotFound: ``item_not_found`` (hidden, pending or rejected).
    :raises Conflict: ``item_not_votable``. :raises ValidationError: ``invalid_source``.
    """
    if source not in VOTE_SOURCES:
        raise ValidationError(
            N_("source must be one of %(choices)s"),
            code="invalid_source",
            params={"choices": ", ".join(VOTE_SOURCES)},
        )
    check_votable(item, staff=source != "widget")
    added = _add_vote(
        {
            "item_id": item.id,
            "customer_id": customer.id,
            "company": customer.company,
            "source": source,
            "created_at": utcnow(),
        }
    )
    subscribe(item, customer)
    if added:
        forget_board(site)
        notifications.enqueue_webhook(
            site,
            "vote.created",
            {
                "item": {"id": item.id, "title": item.title},
                "customer": customer.external_id,
                "source": source,
            },
            dedupe_key=f"vote:{uuid.uuid4()}",
            customer=customer,
        )
    return added


# Built once: Core statements on the tables (the ORM's bulk DELETE and UPDATE paths cost more
# than the statements themselves).
_DELETE_VOTE = sa.delete(Vote).where(
    Vote.item_id == sa.bindparam("item_id"), Vote.customer_id == sa.bindparam("customer_id")
)


def unvote(site: Site, item: RoadmapItem | PublicItem, customer: Customer) -> bool:
    """Remove the customer's vote (idempotent), and with it their subscription to the item's
    emails, unless they subscribed for another reason (they suggested it). Returns whether a
    vote was removed."""
    result = db.session.connection().execute(
        _DELETE_VOTE, {"item_id": item.id, "customer_id": customer.id}
    )
    removed = rowcount(result) == 1
    if item.suggested_by_id != customer.id:
        unsubscribe(site, customer.id, item.id)
    if removed:
        forget_board(site)
        notifications.enqueue_webhook(
            site,
            "vote.deleted",
            {"item": {"id": item.id, "title": item.title}, "customer": customer.external_id},
            dedupe_key=f"unvote:{uuid.uuid4()}",
            customer=customer,
        )
    return removed


_VOTE_STATE = sa.select(
    sa.func.count(),
    sa.func.coalesce(
        sa.func.max(sa.case((_VOTES.c.customer_id == sa.bindparam("customer_id"), 1))), 0
    ),
).where(_VOTES.c.item_id == sa.bindparam("item_id"))


def vote_state(item: RoadmapItem | PublicItem, customer: Customer) -> dict:
    """The item's vote count and whether this customer has voted (one query)."""
    row = (
        db.session.connection()
        .execute(_VOTE_STATE, {"item_id": item.id, "customer_id": customer.id})
        .one()
    )
    return {"item_id": item.id, "votes": int(row[0]), "voted": bool(row[1])}


def subscribe(item: RoadmapItem | PublicItem, customer: Customer) -> None:
    """Subscribe (again): a vote is consent, given with the text shown at vote time. One
    statement: a new subscription, or the old one active again."""
    statement = per_dialect(
        "roadmap.subscribe",
        lambda: upsert(Subscription).on_conflict_do_update(
            index_elements=["item_id", "customer_id"], set_={"unsubscribed_at": None}
        ),
    )
    db.session.connection().execute(
        statement, {"item_id": item.id, "customer_id": customer.id, "created_at": utcnow()}
    )


_UNSUBSCRIBE = sa.update(Subscription).where(
    Subscription.customer_id == sa.bindparam("of_customer"),
    Subscription.unsubscribed_at.is_(None),
)
_UNSUBSCRIBE_ITEM = _UNSUBSCRIBE.where(Subscription.item_id == sa.bindparam("of_item"))


def unsubscribe(site: Site, customer_id: int, item_id: int | None) -> int:
    """Stop emails about one item (or every item when ``item_id`` is None)."""
    params = {"of_customer": customer_id, "unsubscribed_at": utcnow()}
    if item_id is None:
        return rowcount(db.session.connection().execute(_UNSUBSCRIBE, params))
    params["of_item"] = item_id
    return rowcount(db.session.connection().execute(_UNSUBSCRIBE_ITEM, params))


# --- rankings and the board ---------------------------------------------------------------


@dataclass(frozen=True)
class ItemFilter:
    public_only: bool = False
    statuses: tuple[str, ...] | None = None
    moderation: str | None = "approved"
    include_merged: bool = False
    ids: tuple[int, ...] | None = None


def items_with_stats(
    site: Site, filters: ItemFilter, sort: str = "votes", limit: int = 500, offset: int = 0
):
    """Items with ``votes``, ``companies``, ``voters_mrr`` and ``lost_mrr`` (one query).

    A vote counts once per customer; ``companies`` counts each company once (customers
    without a company count alone); ``lost_mrr`` is the lost MRR (:mod:`metrics`) of the
    cancelled sessions that named the item.
    """
    if sort not in SORTS:
        raise ValidationError(
            N_("sort must be one of %(choices)s"),
            code="invalid_sort",
            params={"choices": ", ".join(SORTS)},
        )
    scope = [RoadmapItem.site_id == site.id]
    if filters.public_only:
        scope.append(RoadmapItem.public.is_(True))
    if filters.statuses:
        scope.append(RoadmapItem.status.in_(filters.statuses))
    if filters.moderation:
        scope.append(RoadmapItem.moderation == filters.moderation)
    if not filters.include_merged:
        scope.append(RoadmapItem.merged_into_id.is_(None))
    if filters.ids is not None:
        scope.append(RoadmapItem.id.in_(filters.ids))
    # The measures are summed for these items only (their votes and sessions, through the
    # item indexes): never another site's rows, however many sites share the database.
    mine = sa.select(RoadmapItem.id).where(*scope)
    company_key = sa.func.coalesce(Vote.company, "customer:" + sa.cast(Vote.customer_id, sa.String))
    votes = (
        sa.select(
            Vote.item_id,
            sa.func.count().label("votes"),
            sa.func.count(sa.distinct(company_key)).label("companies"),
            sa.func.coalesce(
                sa.func.sum(converted(site, Customer.mrr, Customer.currency)), 0
            ).label("voters_mrr"),
        )
        .join(Customer, Customer.id == Vote.customer_id)
        .where(Vote.item_id.in_(mine))
        .group_by(Vote.item_id)
        .subquery()
    )
    s = CancellationSession
    lost = (
        sa.select(
            s.roadmap_item_id.label("item_id"),
            metrics.lost_mrr(site, s.outcome, s.mrr, s.currency).label("lost_mrr"),
            sa.func.count(sa.distinct(s.customer_id)).label("churned"),
        )
        .where(s.roadmap_item_id.in_(mine), s.outcome == metrics.CANCELLED)
        .group_by(s.roadmap_item_id)
        .subquery()
    )
    columns = {
        "votes": sa.func.coalesce(votes.c.votes, 0),
        "companies": sa.func.coalesce(votes.c.companies, 0),
        "voters_mrr": sa.func.coalesce(votes.c.voters_mrr, 0),
        "lost_mrr": sa.func.coalesce(lost.c.lost_mrr, 0),
        "churned": sa.func.coalesce(lost.c.churned, 0),
    }
    query = (
        sa.select(RoadmapItem, *(c.label(n) for n, c in columns.items()))
        .outerjoin(votes, votes.c.item_id == RoadmapItem.id)
        .outerjoin(lost, lost.c.item_id == RoadmapItem.id)
        .where(*scope)
    )
    order = RoadmapItem.created_at.desc() if sort == "created" else columns[sort].desc()
    query = query.order_by(order, RoadmapItem.id.desc()).limit(limit).offset(offset)
    return [
        {"item": row[0], **{name: int(getattr(row, name)) for name in columns}}
        for row in db.session.execute(query)
    ]


def item_stats(site: Site, item: RoadmapItem) -> dict:
    """One item with its measures, whatever its moderation or merge state."""
    [row] = items_with_stats(site, ItemFilter(ids=(item.id,), moderation=None, include_merged=True))
    return row


BOARD_STATUSES = ("under_consideration", "planned", "in_progress", "shipped")
# Each process keeps a site's public board this long: reading it then costs no query. A write
# in this process forgets it at once; other processes see the change when it expires.
BOARD_CACHE_SECONDS = 2.0
_boards: dict[str, tuple[float, list[dict]]] = {}


def forget_board(site: Site) -> None:
    """Drop this process's cached board of the site (after any change to what it shows)."""
    _boards.pop(site.key, None)


def _public_items(site: Site) -> Sequence[Any]:
    """The board's items with their vote counts: only the site's public, approved, unmerged
    items (and shipped ones of the last 90 days), each counted through the votes index."""
    votes = (
        sa.select(sa.func.count())
        .where(Vote.item_id == RoadmapItem.id)
        .correlate(RoadmapItem)
        .scalar_subquery()
    )
    shipped_since = utcnow() - timedelta(days=RECENTLY_SHIPPED_DAYS)
    r = RoadmapItem
    query = (
        sa.select(
            r.id, r.title, r.description_html, r.status, r.target, r.tags, votes.label("votes")
        )
        .where(
            r.site_id == site.id,
            r.public.is_(True),
            r.moderation == "approved",
            r.merged_into_id.is_(None),
            r.status.in_(BOARD_STATUSES),
            sa.or_(r.status != "shipped", r.status_changed_at >= shipped_since),
        )
        .order_by(votes.desc(), r.id.desc())
    )
    return db.session.execute(query).all()


def public_board(site: Site) -> list[dict]:
    """The site's board items, most voted first: this process's copy while it is fresh (the
    same list object until then; do not change it)."""
    cached = _boards.get(site.key)
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return cached[1]
    items = [
        {
            "id": row.id,
            "title": row.title,
            "description_html": row.description_html,
            "status": row.status,
            "target": row.target,
            "tags": row.tags or [],
            "votes": row.votes,
            "votable": row.status in VOTABLE,
        }
        for row in _public_items(site)
    ]
    if BOARD_CACHE_SECONDS > 0:
        _boards[site.key] = (now + BOARD_CACHE_SECONDS, items)
    return items


def board(site: Site, voted: Collection[int] = (), *, items: list[dict] | None = None) -> list:
    """The public board's items (ideas, planned, in progress and recently shipped), most voted
    first, each with whether its id is in ``voted`` (a reader's votes, see :func:`reader`).
    ``items``: the :func:`public_board` copy the caller already holds. The doors group them by
    status and label them (customer/present.py)."""
    if items is None:
        items = public_board(site)
    return [{**item, "voted": item["id"] in voted} for item in items]


def missing_feature_items(site: Site, limit: int = 8) -> list[dict]:
    """Public items a leaving customer may say they needed (most voted first)."""
    items = [item for item in public_board(site) if item["status"] in VOTABLE]
    return [{"id": item["id"], "title": item["title"]} for item in items[:limit]]


_READER = (
    sa.select(
        *(
            _CUSTOMERS.c[name]
            for name in (
                "id", "email", "name", "company", "plan", "signed_up_at", "stripe_customer_id",
                "mrr", "currency", "attributes", "locale", "updated_at",
            )
        ),
        _VOTES.c.item_id,
    )
    .select_from(_CUSTOMERS.outerjoin(_VOTES, _VOTES.c.customer_id == _CUSTOMERS.c.id))
    .where(
        _CUSTOMERS.c.site_id == sa.bindparam("site_id"),
        _CUSTOMERS.c.external_id == sa.bindparam("sub"),
    )
)  # fmt: skip


def reader(site: Site, sub: str) -> tuple[Any, frozenset[int]]:
    """A board reader in one round trip: the customer's stored fields (a row with the
    attribute names :func:`customers.is_current` reads; None when Keepkit has not seen them)
    and the ids of the items they voted for."""
    rows = db.session.execute(_READER, {"site_id": site.id, "sub": sub}).all()
    if not rows:
        return None, frozenset()
    return rows[0], frozenset(row.item_id for row in rows if row.item_id is not None)


def similar(site: Site, text: str, limit: int = 5) -> list[dict]:
    """Public items whose titles share words with ``text`` (for the suggest form)."""
    words = [w for w in re.findall(r"\w{3,}", (text or "").lower())][:8]
    if not words:
        return []
    matches = sum(
        (
            sa.case((sa.func.lower(RoadmapItem.title).contains(w, autoescape=True), 1), else_=0)
            for w in words
        ),
        start=sa.literal(0),
    )
    query = (
        sa.select(RoadmapItem.id, RoadmapItem.title, RoadmapItem.status, matches.label("score"))
        .where(
            RoadmapItem.site_id == site.id,
            RoadmapItem.public.is_(True),
            RoadmapItem.moderation == "approved",
            RoadmapItem.merged_into_id.is_(None),
            matches > 0,
        )
        .order_by(sa.desc("score"), RoadmapItem.id.desc())
        .limit(limit)
    )
    return [
        {"id": row.id, "title": row.title, "status": row.status}
        for row in db.session.execute(query)
    ]


# --- suggestions and moderation -----------------------------------------------------------


def suggest(site: Site, customer: Customer, *, title: str, description: str = "") -> RoadmapItem:
    """A customer's idea: waits in moderation, not public until approved. The suggester is
    subscribed, and their vote is added when it is approved.

    :raises ValidationError: ``invalid_item`` or ``invalid_characters``.
    """
    item = create_item(site, title=title, description=description)
    item.moderation = "pending"
    item.suggested_by_id = customer.id
    subscribe(item, customer)
    db.session.flush()
    return item


def moderate(site: Site, item: RoadmapItem, approve: bool) -> None:
    """Approve (publish, count the suggester's vote) or reject a suggestion."""
    item.moderation = "approved" if approve else "rejected"
    item.updated_at = utcnow()
    if approve and item.suggested_by is not None:
        vote(site, item, item.suggested_by, source="widget")
    db.session.flush()
    forget_board(site)


def merge(site: Site, duplicate: RoadmapItem, original: RoadmapItem) -> None:
    """Fold ``duplicate`` into ``original``: voters and subscribers are united without double
    votes, churned sessions point at the original, the duplicate keeps a pointer to it.

    :raises ValidationError: ``invalid_merge`` when merging an item into itself or a chain.
    """
    if duplicate.id == original.id or original.merged_into_id or original.site_id != site.id:
        raise ValidationError(
            N_("Choose another, unmerged item to merge into"), code="invalid_merge"
        )
    for model in (Vote, Subscription):
        mine = sa.select(model.customer_id).where(model.item_id == original.id)
        db.session.execute(
            sa.update(model)
            .where(model.item_id == duplicate.id, model.customer_id.not_in(mine))
            .values(item_id=original.id)
        )
        db.session.execute(sa.delete(model).where(model.item_id == duplicate.id))
    db.session.execute(
        sa.update(CancellationSession)
        .where(CancellationSession.roadmap_item_id == duplicate.id)
        .values(roadmap_item_id=original.id)
    )
    duplicate.merged_into_id = original.id
    duplicate.status = "duplicate"
    duplicate.status_changed_at = duplicate.updated_at = original.updated_at = utcnow()
    db.session.flush()
    forget_board(site)


def merge_targets(site: Site, item: RoadmapItem) -> list[RoadmapItem]:
    """The items ``item`` may be merged into: the site's other unmerged items, newest first."""
    query = sa.select(RoadmapItem).where(
        RoadmapItem.site_id == site.id,
        RoadmapItem.id != item.id,
        RoadmapItem.merged_into_id.is_(None),
        RoadmapItem.moderation == "approved",
    )
    return list(db.session.scalars(query.order_by(RoadmapItem.created_at.desc())))


def voters(item: RoadmapItem, *, page: int = 1, per_page: int = 50) -> list[Vote]:
    """One page of the item's voters, newest first."""
    query = (
        sa.select(Vote)
        .options(joinedload(Vote.customer))
        .where(Vote.item_id == item.id)
        .order_by(Vote.created_at.desc(), Vote.id.desc())
    )
    return list(db.session.scalars(query.offset((page - 1) * per_page).limit(per_page)))


def _churned(item: RoadmapItem):
    s = CancellationSession
    return (s.roadmap_item_id == item.id, s.outcome == "cancelled")


def churned_for(
    item: RoadmapItem, *, page: int = 1, per_page: int = 50
) -> list[CancellationSession]:
    """One page of the cancelled sessions that named the item, newest first."""
    s = CancellationSession
    query = (
        sa.select(s)
        .options(joinedload(s.customer))
        .where(*_churned(item))
        .order_by(s.completed_at.desc(), s.id.desc())
    )
    return list(db.session.scalars(query.offset((page - 1) * per_page).limit(per_page)))


def churned_sessions(item: RoadmapItem) -> int:
    """How many cancelled sessions named the item (the pages of :func:`churned_for`)."""
    return db.session.execute(sa.select(sa.func.count()).where(*_churned(item))).scalar_one()
