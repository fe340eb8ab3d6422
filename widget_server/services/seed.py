"""Realistic demo data: plans, a reason mix that depends on the plan, comments in several
languages, saves through offers, spread over the last 12 months.

Rows are written with bulk inserts in batches, so a million sessions take minutes.
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

import sqlalchemy as sa

from widget_server.extensions import db
from widget_server.models import (
    CancellationSession,
    Customer,
    LifecycleEvent,
    Offer,
    OutboxMessage,
    Reason,
    RoadmapItem,
    Site,
    Subscription,
    Vote,
    utcnow,
)
from widget_server.models.lifecycle import CANCELLED, REACTIVATED, RENEWED
from widget_server.services import rollups
from widget_server.services.impact import WINBACK_TOPIC
from widget_server.services.lifecycle import mark_billing_cancellations
from widget_server.services.sql import insert_or_ignore

SEED_PREFIX = "seed-"
BATCH = 5000
PLANS = [  # name, base MRR in cents, weight
    ("Starter", 2900, 45),
    ("Growth", 9900, 30),
    ("Business", 29900, 18),
    ("Enterprise", 99900, 7),
]
REASON_WEIGHTS = {  # per plan: the reasons customers on it give most
    "Starter": {
        "too_expensive": 34,
        "switching": 12,
        "shutting_down": 14,
        "technical_issues": 8,
        "not_sure_how": 16,
        "missing_features": 9,
        "other": 7,
    },
    "Growth": {
        "too_expensive": 20,
        "switching": 18,
        "shutting_down": 9,
        "technical_issues": 13,
        "not_sure_how": 8,
        "missing_features": 24,
        "other": 8,
    },
    "Business": {
        "too_expensive": 12,
        "switching": 22,
        "shutting_down": 6,
        "technical_issues": 17,
        "not_sure_how": 4,
        "missing_features": 33,
        "other": 6,
    },
    "Enterprise": {
        "too_expensive": 10,
        "switching": 26,
        "shutting_down": 5,
        "technical_issues": 20,
        "not_sure_how": 2,
        "missing_features": 32,
        "other": 5,
    },
}
COMMENTS = {
    "too_expensive": [
        ("en", "We are a small team and the price went up too much."),
        ("en", "Budget cuts this quarter, we have to drop tools."),
        ("de", "Für unser kleines Team leider zu teuer."),
        ("fi", "Hinta nousi liikaa meidän budjettiin."),
    ],
    "switching": [
        ("en", "Moving to a tool our parent company already pays for."),
        ("en", "Found something with a better mobile app."),
        ("de", "Wir wechseln zu einem Anbieter mit Servern in Deutschland."),
    ],
    "shutting_down": [
        ("en", "We are closing the business at the end of the month."),
        ("de", "Wir stellen den Betrieb ein."),
    ],
    "technical_issues": [
        ("en", "The sync kept failing and support was slow."),
        ("en", "Too many outages in the last two months."),
        ("de", "Der Export bricht bei großen Dateien ab."),
    ],
    "not_sure_how": [
        ("en", "Never figured out how to set up the integrations."),
        ("de", "Die Einrichtung war zu kompliziert für uns."),
    ],
    "missing_features": [
        ("en", "We need SSO with Okta."),
        ("en", "No API access to the reports."),
        ("en", "Missing a Salesforce integration."),
        ("de", "Uns fehlt eine DATEV-Schnittstelle."),
        ("de", "Ohne Zwei-Faktor-Anmeldung dürfen wir es nicht nutzen."),
        ("fi", "Tarvitsemme suomenkielisen käyttöliittymän."),
    ],
    "other": [
        ("en", "The project we used it for has ended."),
        ("de", "Wir brauchen es nur noch saisonal."),
        ("en", "Our champion left the company."),
    ],
}
FIRST = [
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Emma",
    "Felix",
    "Greta",
    "Hannu",
    "Ida",
    "Jonas",
    "Kaisa",
    "Lukas",
    "Mia",
    "Noah",
    "Olivia",
]
LAST = [
    "Becker",
    "Chen",
    "Fischer",
    "Garcia",
    "Korhonen",
    "Laine",
    "Müller",
    "Nguyen",
    "Olsen",
    "Patel",
    "Schmidt",
    "Weber",
]
COMPANY = [
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Tyrell",
    "Wonka",
    "Aperture",
]


def seeded_count(site: Site) -> int:
    return db.session.execute(
        sa.select(sa.func.count())
        .select_from(CancellationSession)
        .join(Customer, Customer.id == CancellationSession.customer_id)
        .where(Customer.site_id == site.id, Customer.external_id.startswith(SEED_PREFIX))
    ).scalar_one()


def seed_sessions(site: Site, total: int, *, progress=None) -> int:
    """Top the site up to ``total`` seeded sessions (idempotent). Returns how many were added.

    ``progress(done, todo)`` is called after each batch.
    """
    existing = seeded_count(site)
    todo = max(0, total - existing)
    reasons = {
        r.key: r for r in db.session.scalars(sa.select(Reason).where(Reason.site_id == site.id))
    }
    offers = list(
        db.session.scalars(
            sa.select(Offer).where(Offer.site_id == site.id, Offer.archived_at.is_(None))
        )
    )
    offer_for: dict[str, Offer] = {}
    for offer in sorted(offers, key=lambda o: o.position):
        for reason in offer.reasons:
            offer_for.setdefault(reason.key, offer)
    items = list(
        db.session.execute(
            sa.select(RoadmapItem.id, RoadmapItem.title).where(
                RoadmapItem.site_id == site.id,
                RoadmapItem.public.is_(True),
                RoadmapItem.status.in_(("under_consideration", "planned", "in_progress")),
            )
        )
    )
    now = utcnow()
    done = 0
    while done < todo:
        size = min(BATCH, todo - done)
        _seed_batch(site, existing + done, size, reasons, offer_for, now, items)
        done += size
        if progress:
            progress(done, todo)
    if todo:
        rollups.rebuild(site)  # bulk inserts bypass the per-session rollup writes
    return todo


def _spread_plan(i: int) -> tuple[str, int]:
    """The i-th seeded customer's plan and base MRR: the plans' weights, evenly spread."""
    point = (i * 0.7548776662466927) % 1 * sum(weight for _, _, weight in PLANS)
    for name, base, weight in PLANS:
        if point < weight:
            return name, base
        point -= weight
    return PLANS[-1][0], PLANS[-1][1]


def _seed_batch(site, start, size, reasons, offer_for, now, items):
    rng = random.Random(f"{site.key}:{start}")
    customers, sessions = [], []
    for i in range(start, start + size):
        # Steady months: the days of the year and the plans are spread evenly over the
        # sessions (two low-discrepancy sequences, not dice), so any 30 days hold the same mix
        # of plans as the 30 before and the default view compares like with like (random days
        # made the few large Enterprise accounts swing a month's lost MRR by a third).
        plan, base = _spread_plan(i)
        mrr = base * rng.choice((1, 1, 1, 2, 3)) + rng.choice((0, 0, 500, 1000))
        days_ago = int((i * 0.6180339887498949) % 1 * 365)
        started = now - timedelta(days=days_ago, seconds=rng.randrange(86400))
        signed_up = started - timedelta(days=rng.randrange(14, 1500))
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        company = f"{rng.choice(COMPANY)} {rng.randrange(1, 400)}"
        customers.append(
            {
                "site_id": site.id,
                "external_id": f"{SEED_PREFIX}{i}",
                "email": f"customer{i}@example.com",
                "name": name,
                "company": company,
                "plan": plan,
                "mrr": mrr,
                "currency": site.currency,
                "signed_up_at": signed_up,
                "attributes": {"seats": mrr // base, "region": rng.choice(("EU", "US", "APAC"))},
                "created_at": started,
                "updated_at": started,
            }
        )
        weights = REASON_WEIGHTS[plan]
        key = rng.choices(list(weights), weights=list(weights.values()))[0]
        reason = reasons.get(key)
        offer = offer_for.get(key)
        roll = rng.random()
        outcome = "dismissed" if roll < 0.15 else "saved" if offer and roll < 0.37 else "cancelled"
        locale, comment = rng.choice(COMMENTS[key])
        has_comment = key == "other" or rng.random() < 0.45
        # Most customers missing a feature point at a roadmap item (skewed: the first items
        # are the most wanted); their comment names that item.
        item = (
            items[min(int(rng.expovariate(0.6)), len(items) - 1)]
            if items and key == "missing_features" and rng.random() < 0.7
            else None
        )
        if item is not None:
            locale = rng.choice(("en", "en", "de", "fi"))
            comment = ITEM_COMMENTS[locale].format(title=item.title)
        sessions.append(
            {
                "public_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "site_id": site.id,
                "plan": plan,
                "mrr": mrr,
                "currency": site.currency,
                "attributes": customers[-1]["attributes"],
                "tenure_days": (started - signed_up).days,
                "locale": locale if has_comment else rng.choice(("en", "en", "de", "fi")),
                "reason_id": reason.id if reason else None,
                "comment": comment if has_comment else None,
                "offers_shown": [offer.key] if offer else [],
                "roadmap_item_id": item.id if item is not None else None,
                "offer_id": offer.id if offer and outcome == "saved" else None,
                "outcome": outcome,
                "started_at": started,
                "answered_at": started + timedelta(seconds=20),
                "completed_at": started + timedelta(seconds=rng.randrange(25, 180)),
            }
        )
    # The new ids in the order of ``customers`` (one multi-row INSERT … RETURNING per batch).
    ids = db.session.scalars(
        sa.insert(Customer).returning(Customer.id, sort_by_parameter_order=True), customers
    ).all()
    for customer_id, session in zip(ids, sessions, strict=True):
        session["customer_id"] = customer_id
    db.session.execute(sa.insert(CancellationSession), sessions)


ITEM_COMMENTS = {
    "en": "We cannot stay without {title}.",
    "de": "Ohne {title} können wir nicht bleiben.",
    "fi": "Emme voi jäädä ilman tätä: {title}.",
}

DEMO_ITEMS = [
    ("Single sign-on (Okta, Azure AD)", "planned", "2026-Q1", "Sign in with your identity "
     "provider. SAML and OIDC."),
    ("Salesforce integration", "in_progress", None, "Sync accounts and opportunities both ways."),
    ("Public API for reports", "under_consideration", None, "Read every report over a REST API."),
    ("Two-factor authentication", "planned", "2026-02", "TOTP apps and security keys."),
    ("Dark mode", "under_consideration", None, ""),
    ("CSV export of dashboards", "shipped", None, "Export any dashboard as CSV."),
]  # fmt: skip


def roadmap_items_query(site: Site):
    """SQL: how many roadmap items the site has."""
    return sa.select(sa.func.count()).where(RoadmapItem.site_id == site.id)


def seed_roadmap(site: Site, voters: int = 400) -> int:
    """Create the demo roadmap items (once) and votes from seeded customers. Returns the
    number of items created."""
    existing = db.session.scalar(sa.select(sa.func.count()).where(RoadmapItem.site_id == site.id))
    if existing:
        return 0
    items = []
    for title, status, target, description in DEMO_ITEMS:
        item = RoadmapItem(
            site_id=site.id, title=title, status=status, target=target, description=description
        )
        db.session.add(item)
        items.append(item)
    db.session.flush()
    rng = random.Random(f"{site.key}:roadmap")
    customers = db.session.execute(
        sa.select(Customer.id, Customer.company)
        .where(Customer.site_id == site.id, Customer.external_id.startswith(SEED_PREFIX))
        .limit(voters)
    ).all()
    votable = [i for i in items if i.status != "shipped"]
    rows = {}
    for customer_id, company in customers:
        for item in rng.sample(votable, rng.randint(1, 3)):
            rows[(item.id, customer_id)] = {
                "item_id": item.id, "customer_id": customer_id, "company": company,
                "source": "widget", "created_at": utcnow(),
            }  # fmt: skip
    if rows:
        db.session.execute(sa.insert(Vote), list(rows.values()))
        # A vote subscribes, as in the widget: a status change in the demo emails the voters.
        db.session.execute(
            sa.insert(Subscription),
            [
                {k: row[k] for k in ("item_id", "customer_id", "created_at")}
                for row in rows.values()
            ],
        )
    return len(items)


# --- lifecycle events (``keepkit seed --with-events``) ---------------------------------------

LAPSE_SHARE = 0.25  # saved customers who cancel later anyway
CONFIRMED_SHARE = 0.85  # cancellations billing confirms (the others still pay)
COMEBACK_SHARE = 0.35  # customers told that their missing feature shipped who come back
STRAY_COMEBACK_SHARE = 0.02  # other churned customers who come back on their own
SHIPPED_DAYS_AGO = 75  # when the demo's shipped item shipped
READ_PAGE = 20000


def seeded_events(site: Site) -> int:
    return db.session.execute(
        sa.select(sa.func.count())
        .select_from(LifecycleEvent)
        .where(LifecycleEvent.site_id == site.id, LifecycleEvent.event_id.startswith(SEED_PREFIX))
    ).scalar_one()


def seed_events(site: Site, *, progress=None) -> int:
    """Lifecycle events for the site's seeded sessions, as billing would have sent them (once;
    a second run adds nothing): saved customers renew monthly and some cancel later anyway,
    most cancellations are confirmed (some "said cancelled" still pay), and churned customers
    who wanted the shipped roadmap item got its win-back email, some of whom came back.
    Returns how many events were added. ``progress(done)`` is called after each batch.
    """
    if seeded_events(site):
        return 0
    now = utcnow()
    rng = random.Random(f"{site.key}:events")
    shipped = db.session.scalar(
        sa.select(RoadmapItem)
        .where(RoadmapItem.site_id == site.id, RoadmapItem.status == "shipped")
        .order_by(RoadmapItem.id)
        .limit(1)
    )
    shipped_at = now - timedelta(days=SHIPPED_DAYS_AGO)
    if shipped is not None:
        shipped.status_changed_at = shipped.updated_at = shipped_at
    s = CancellationSession
    query = (
        sa.select(
            s.id, s.customer_id, s.outcome, s.completed_at, s.mrr, s.roadmap_item_id,
            Customer.email,
        )
        .join(Customer, Customer.id == s.customer_id)
        .where(
            s.site_id == site.id,
            s.outcome.in_(("saved", "cancelled")),
            Customer.external_id.startswith(SEED_PREFIX),
        )
        .order_by(s.id)
        .limit(READ_PAGE)
    )  # fmt: skip
    events: list[dict] = []
    emails: list[dict] = []
    repointed: list[int] = []
    added, last = 0, 0

    def event(session_id, customer_id, kind, when, n, mrr=None):
        events.append(
            {
                "site_id": site.id,
                "customer_id": customer_id,
                "event_id": f"{SEED_PREFIX}{session_id}-{kind}-{n}",
                "type": kind,
                "occurred_at": when,
                "mrr": mrr,
                "currency": site.currency if mrr is not None else None,
                "created_at": when,
            }
        )

    def flush():
        nonlocal added
        if events:
            db.session.execute(sa.insert(LifecycleEvent), events)
            added += len(events)
        if emails:
            db.session.execute(insert_or_ignore(OutboxMessage, ["dedupe_key"]), emails)
        if repointed and shipped is not None:  # only sessions told of the shipped item
            db.session.execute(
                sa.update(CancellationSession)
                .where(CancellationSession.id.in_(repointed))
                .values(roadmap_item_id=shipped.id)
                .execution_options(synchronize_session=False)
            )
        events.clear()
        emails.clear()
        repointed.clear()
        if progress:
            progress(added)

    while rows := db.session.execute(query.where(s.id > last)).all():
        last = rows[-1].id
        for sid, cid, outcome, completed, mrr, item_id, email in rows:
            if completed is None:  # never: an outcome comes with its completion time
                continue
            if outcome == "saved":
                lapse = (
                    completed + timedelta(days=rng.randint(5, 150))
                    if rng.random() < LAPSE_SHARE
                    else None
                )
                if lapse and lapse < now:
                    event(sid, cid, CANCELLED, lapse, 0, mrr)
                renewal, n = completed + timedelta(days=30), 0
                while renewal < min(now, lapse or now):
                    event(sid, cid, RENEWED, renewal, n)
                    renewal, n = renewal + timedelta(days=30), n + 1
                continue
            confirmed = completed + timedelta(days=rng.randint(0, 30), hours=rng.randint(0, 23))
            if rng.random() < CONFIRMED_SHARE and confirmed < now:
                event(sid, cid, CANCELLED, confirmed, 0, mrr)
            if (
                shipped is not None
                and item_id is not None
                and completed < shipped_at
                and rng.random() < 0.3
            ):
                # They wanted a feature; it is the one that shipped; they got its email.
                repointed.append(sid)
                sent = shipped_at + timedelta(minutes=rng.randint(1, 60))
                emails.append(
                    {
                        "site_id": site.id, "customer_id": cid, "kind": "email",
                        "topic": WINBACK_TOPIC,
                        "dedupe_key": f"email:{shipped.id}:winback:{cid}",
                        "recipient": email or f"customer{cid}@example.com",
                        "payload": {
                            "template": "winback", "item_id": shipped.id, "customer_id": cid,
                        },
                        "state": "sent", "attempts": 1, "created_at": shipped_at,
                        "next_attempt_at": shipped_at, "sent_at": sent,
                    }
                )  # fmt: skip
                back = sent + timedelta(days=rng.randint(2, 60), hours=rng.randint(0, 23))
                if rng.random() < COMEBACK_SHARE and back < now:
                    event(sid, cid, REACTIVATED, back, 0, mrr)
            elif rng.random() < STRAY_COMEBACK_SHARE:
                back = completed + timedelta(days=rng.randint(20, 200))
                if back < now:
                    event(sid, cid, REACTIVATED, back, 0, mrr)
            if len(events) >= BATCH:
                flush()
        flush()
    if added:
        mark_billing_cancellations(site)
    return added


def analyze() -> None:
    """Refresh the planner's statistics after a bulk load (PostgreSQL and SQLite)."""
    db.session.connection().exec_driver_sql("ANALYZE")
