"""Plain factory functions for tests (sites, tokens, customers, cancellation sessions, roadmap
items, experiments, outbox messages) and the small helpers many test modules share."""

from __future__ import annotations

import io
import json
import time
from datetime import timedelta

import jwt
import sqlalchemy as sa
from pypdf import PdfReader

from widget_server.extensions import db
from widget_server.models import Offer, OutboxMessage, Reason, utcnow
from widget_server.services import (
    experiments,
    flow,
    notifications,
    roadmap,
    rollups,
    sites,
    users,
)
from widget_server.services.customers import upsert_customer
from widget_server.services.period import Filter, Period
from widget_server.services.tokens import verify_customer_token

ORIGIN = "https://app.example.com"
# complete_session(offer=SHOWN): a save accepts the offer the flow showed, if it showed one.
SHOWN = object()
# Lifecycle event types, as post_events sends them.
CANCELLED = "subscription.cancelled"
REACTIVATED = "subscription.reactivated"

# Text that is not one line, one of each kind: CR, LF, CRLF, NUL, TAB, ESC, DEL, NEL (C1), the
# Unicode line and paragraph separators, a lone high and a lone low surrogate.
BAD_LINES = [
    "a\rb", "a\nb", "a\r\nb", "a\x00b", "a\tb", "a\x1bb", "a\x7fb", "a\x85b", "a\u2028b",
    "a\u2029b", "a\ud800b", "a\udc00b",
]  # fmt: skip
# What even multi-line text refuses: NUL and a lone surrogate.
BAD_TEXTS = ["a\x00b", "a\ud800b"]
# Each of these names this machine, a private network, or a reserved range.
INSIDE = [
    "http://127.0.0.1/h",
    "http://127.1/h",
    "http://2130706433/h",
    "http://0x7f000001/h",
    "http://0177.0.0.1/h",
    "http://0x7f.0.0.1/h",
    "http://127.0.0.1./h",
    "http://127.0.0.1:8080/h",
    "http://[::1]/h",
    "http://[::ffff:127.0.0.1]/h",
    "http://[::ffff:7f00:1]/h",
    "http://[0:0:0:0:0:ffff:127.0.0.1]/h",
    "http://[::127.0.0.1]/h",
    "http://localhost/h",
    "http://LOCALHOST:8080/h",
    "http://localhost./h",
    "http://api.localhost/h",
    "http://\u24dbocalhost/h",  # a circled l: IDNA maps it to "localhost"
    "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/h",  # full-width digits
    "http://127\u30020\u30020\u30021/h",  # ideographic full stops
    "http://10.0.0.5/h",
    "http://172.16.3.4/h",
    "http://192.168.1.1/h",
    "http://100.64.0.1/h",
    "http://169.254.169.254/latest/meta-data",
    "http://[fe80::1]/h",
    "http://[fc00::1]/h",
    "http://[fd12:3456::1]/h",
    "http://224.0.0.251/h",
    "http://[ff02::1]/h",
    "http://255.255.255.255/h",
    "http://0.0.0.0/h",
    "http://0/h",
    "http://[::]/h",
    "http://[2002:7f00:1::1]/h",  # 6to4 around 127.0.0.1
    "http://[2002:c0a8:101::1]/h",  # 6to4 around 192.168.1.1
    "http://[2001:0:4136:e378:8000:63bf:3f57:fefe]/h",  # Teredo around 192.168.1.1
    "http://[64:ff9b::a00:1]/h",  # NAT64 around 10.0.0.1
    "http://198.18.0.1/h",
    "http://192.0.2.1/h",
    "http://printer.local/h",
    "http://metadata.google.internal/h",
    "http://router.home.arpa/h",
    "http://intranet/h",
]


def make_site(name: str = "Acme", origins=(ORIGIN,), currency: str = "USD"):
    """A site with the default reasons and offers; returns (site, api_key)."""
    site, api_key = sites.create_site(name, list(origins), currency=currency)
    db.session.commit()  # inside the test's outer transaction: rolled back after the test
    return site, api_key


def make_token(site_or_secret, sub: str = "cust-1", *, lifetime: int = 3600, alg="HS256", **claims):
    """A customer token as a host backend would sign it."""
    secret = getattr(site_or_secret, "secret_primary", site_or_secret)
    now = int(time.time())
    payload = {"sub": sub, "exp": now + lifetime, "iat": now, "plan": "Growth", "mrr": 9900}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, secret, algorithm=alg)


def auth(key: str) -> dict:
    """The headers of a data API request with ``key``."""
    return {"Authorization": f"Bearer {key}"}


def make_customer(site, sub: str = "cust-1", *, locale: str | None = None, **claims):
    """The site's customer ``sub`` as a token with ``claims`` describes them (email
    ``<sub>@example.com`` unless given)."""
    claims.setdefault("email", f"{sub}@example.com")
    return upsert_customer(site, verify_customer_token(site, make_token(site, sub, **claims)),
                           locale=locale)  # fmt: skip


def widget(client, site, path: str, body):
    """POST to the widget API of ``site`` (or a site key) as the widget does: JSON sent as
    text/plain (no CORS preflight) from ORIGIN. A str or bytes ``body`` is sent as it is."""
    key = getattr(site, "key", site)
    return client.post(
        f"/api/v1/widget/{key}{path}",
        data=body if isinstance(body, str | bytes) else json.dumps(body),
        headers={"Origin": ORIGIN},
        content_type="text/plain",
    )


def count_rows(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def outbox_messages() -> list[OutboxMessage]:
    """Every queued message, oldest first."""
    return list(db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def make_admin(email: str = "pm@example.com", password: str = "correct horse battery", **kw):
    user = users.create_admin(email, password, **kw)
    db.session.commit()
    return user


def last30():
    """The dashboard's default filter: the last 30 days, everyone."""
    return Filter(Period.last_days(30))


def settle():
    """Count every queued completion in the rollups, as the worker (or the dashboard) would."""
    rollups.fold_all()
    db.session.commit()


def backdate(site, session, days_ago: int, *, started: bool = False):
    """Move a completed session ``days_ago`` days into the past (and its start, if
    ``started``), then rebuild the site's rollups as after any hand edit of sessions."""
    session.completed_at = utcnow() - timedelta(days=days_ago)
    if started:
        session.started_at = session.completed_at
    db.session.flush()
    rollups.fold_all()
    rollups.rebuild(site)
    return session


def start_flow(site, sub: str = "cust-1", reason: str | None = "too_expensive", *,
               comment=None, followup=None, roadmap_item=None, tenure: int | None = None,
               locale: str = "en", **claims):  # fmt: skip
    """Customer ``sub`` opens the cancel flow and answers ``reason`` (None: not yet), through
    the flow service as the widget would. ``claims`` go into the customer's token (make_token's
    defaults: plan Growth, MRR 9900, the site's currency); ``tenure`` is how many days ago the
    customer signed up. Returns ``(session, offer)``: the offer shown, or None."""
    if tenure is not None:
        claims["signed_up_at"] = int((utcnow() - timedelta(days=tenure)).timestamp())
    verified = verify_customer_token(site, make_token(site, sub, **claims))
    session, _ = flow.start_session(site, verified, locale=locale)
    if reason is None:
        return session, None
    offer = flow.answer_session(
        site, session, reason_key=reason, comment=comment, followup_answer=followup,
        roadmap_item_id=roadmap_item.id if roadmap_item else None,
    )  # fmt: skip
    return session, offer


def complete_session(site, sub: str = "cust-1", reason: str | None = "too_expensive",
                     outcome: str = "cancelled", *, offer=SHOWN, days_ago: int = 0,
                     folded: bool = False, **flow_and_claims):  # fmt: skip
    """A completed cancellation session: :func:`start_flow` (which takes the other keywords),
    then ``outcome``. A save accepts ``offer``: an offer's key, SHOWN (the offer the flow
    showed, if any) or None (kept without an offer); other outcomes accept none.

    The completion is queued for the rollups, as in the server; ``folded`` counts it at once,
    as the worker does a moment later. ``days_ago`` moves the session's start and completion
    that many days back and rebuilds the rollups (see :func:`backdate`)."""
    session, shown = start_flow(site, sub, reason, **flow_and_claims)
    if offer is SHOWN:
        offer = shown.key if shown else None
    flow.complete_session(
        site, session, outcome=outcome, offer_key=offer if outcome == "saved" else None
    )
    if folded:
        rollups.fold_all()
    if days_ago:
        backdate(site, session, days_ago, started=True)
    return session


def find_offer(site, key: str) -> Offer | None:
    return db.session.scalar(sa.select(Offer).where(Offer.site_id == site.id, Offer.key == key))


def find_reason(site, key: str) -> Reason | None:
    return db.session.scalar(sa.select(Reason).where(Reason.site_id == site.id, Reason.key == key))


def ab_test(site, weights=(1, 1), **kw):
    """An A/B test of the too_expensive offers: discount_30 against pause, by ``weights``."""
    discount, pause = find_offer(site, "discount_30"), find_offer(site, "pause")
    return experiments.create_ab_test(
        site,
        find_reason(site, "too_expensive").id,
        [(discount.id, weights[0]), (pause.id, weights[1])],
        by="pm@example.com",
        **kw,
    )


def rollup_rows(site) -> dict:
    """Every rollup row of the site, as comparable tuples, by table."""
    result = {}
    for table in rollups.TABLES:
        t = table.__table__
        query = sa.select(t).where(t.c.site_id == site.id)
        result[t.name] = sorted(tuple(r) for r in db.session.execute(query))
    return result


def post_events(client, key, *rows):
    """Post lifecycle events: (customer, type, days_ago, mrr)."""
    body = {
        "events": [
            {
                "id": f"evt_{customer}_{type_}_{days}",
                "type": type_,
                "customer": customer,
                "occurred_at": (utcnow() - timedelta(days=days)).isoformat(),
                **({"mrr": mrr} if mrr is not None else {}),
            }
            for customer, type_, days, mrr in rows
        ]
    }
    response = client.post("/api/v1/events", json=body, headers=auth(key))
    assert response.status_code == 200, response.get_json()


def winback_email(site, customer_id, item, days_ago, *, state="sent"):
    """The item's win-back email as roadmap.change_status queues it, delivered ``days_ago``."""
    notifications.enqueue_emails(
        site,
        "roadmap.winback",
        [
            {
                "dedupe_key": f"email:{item.id}:winback:{customer_id}",
                "to": "someone@example.com",
                "payload": {"template": "winback", "item_id": item.id, "customer_id": customer_id},
            }
        ],
    )
    sent_at = utcnow() - timedelta(days=days_ago) if state == "sent" else None
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.dedupe_key == f"email:{item.id}:winback:{customer_id}")
        .values(state=state, sent_at=sent_at)
    )


def roadmap_board(site):
    """A committed board: SSO (planned, with a marked-up description), Dark mode (in
    progress), CSV export (shipped) and Secret (not public)."""
    made = [
        roadmap.create_item(site, title="SSO", status="planned", description="**Okta** <b>x</b>"),
        roadmap.create_item(site, title="Dark mode", status="in_progress"),
        roadmap.create_item(site, title="CSV export", status="shipped"),
        roadmap.create_item(site, title="Secret", public=False),
    ]
    db.session.commit()
    return made


def pdf_text(data: bytes) -> str:
    """The text of every page of a PDF."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
