"""A long CSV export holds no lock: a customer completing the cancel flow while an admin
downloads 200,000 sessions is answered at once (SQLite has one writer at a time; an export in
one long write-locked transaction made every completion wait, then fail)."""

from __future__ import annotations

import http.cookiejar
import re
import time
import urllib.parse
import urllib.request

import sqlalchemy as sa

from tests.factories import ORIGIN, make_admin, make_site, make_token
from tests.servers import post
from widget_server.extensions import db
from widget_server.models import CancellationSession, Customer, utcnow
from widget_server.models.base import UTCDateTime

SESSIONS = 200_000
PASSWORD = "correct horse battery"


def bulk_sessions(site, count: int) -> None:
    """``count`` cancelled sessions of one customer, in one INSERT … SELECT."""
    customer = Customer(site_id=site.id, external_id="bulk", currency="USD", attributes={})
    db.session.add(customer)
    db.session.flush()
    numbers = sa.select(sa.literal(1).label("i")).cte("numbers", recursive=True)
    numbers = numbers.union_all(sa.select(numbers.c.i + 1).where(numbers.c.i < count))
    now = sa.literal(utcnow(), UTCDateTime())
    s = CancellationSession
    columns = {
        "public_id": sa.literal("bulk-") + sa.cast(numbers.c.i, sa.String),
        "site_id": sa.literal(site.id), "customer_id": sa.literal(customer.id),
        "plan": sa.literal("Growth"), "mrr": sa.literal(9900), "currency": sa.literal("USD"),
        "attributes": sa.literal({}, sa.JSON), "locale": sa.literal("en"),
        "offers_shown": sa.literal([], sa.JSON), "outcome": sa.literal("cancelled"),
        "comment": sa.literal("Too expensive for what we use, honestly"),
        "started_at": now, "completed_at": now,
    }  # fmt: skip
    select = sa.select(*(value.label(name) for name, value in columns.items()))
    db.session.execute(sa.insert(s).from_select(list(columns), select.select_from(numbers)))


def admin_opener(base: str, email: str):
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with opener.open(f"{base}/admin/login", timeout=30) as response:
        token = re.search(r'name="csrf_token" value="([^"]+)"', response.read().decode())[1]
    form = urllib.parse.urlencode({"email": email, "password": PASSWORD, "csrf_token": token})
    opener.open(f"{base}/admin/login", data=form.encode(), timeout=30).close()
    return opener


def test_a_completion_during_a_long_export_is_answered_within_a_second(live):
    app, base = live
    with app.app_context():
        site, _ = make_site("Exporting")
        make_admin("pm@example.com", PASSWORD)
        bulk_sessions(site, SESSIONS)
        db.session.commit()
        key, secret = site.key, site.secret_primary
    api = f"{base}/api/v1/widget/{key}"
    token = make_token(secret, "leaving")
    session = post(f"{api}/sessions", {"token": token}, Origin=ORIGIN)["session"]
    post(f"{api}/sessions/{session}/answer", {"token": token, "reason": "other",
                                              "comment": "Moving on"}, Origin=ORIGIN)  # fmt: skip

    export = admin_opener(base, "pm@example.com").open(
        f"{base}/admin/sites/{key}/sessions.csv", timeout=120
    )
    first = export.read(64 * 1024)  # the export is running ...
    assert first.startswith(b"session_id,")
    time.sleep(2)  # ... and has filled the socket's buffers: it waits for the reader
    started = time.perf_counter()
    result = post(f"{api}/sessions/{session}/complete",
                  {"token": token, "outcome": "cancelled"}, Origin=ORIGIN)  # fmt: skip
    elapsed = time.perf_counter() - started
    assert result["outcome"] == "cancelled"
    assert elapsed < 1.0, f"the completion waited {elapsed:.2f}s for the export"
    rest = export.read()
    export.close()
    lines = (first + rest).count(b"\n")
    assert lines >= SESSIONS + 1  # the header and every session
