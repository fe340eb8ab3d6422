from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.factories import auth, complete_session, make_site, start_flow
from widget_server.services.period import Filter, Period


@pytest.fixture
def history(db, site):
    # Hand-computed: too_expensive loses 3 x 2900 = 8700; missing_features 2 x 29900 = 59800;
    # switching 9900. Dismissed and old sessions do not count.
    for sub, reason, mrr, more in [
        *((f"s{i}", "too_expensive", 2900, dict(plan="Starter")) for i in range(3)),
        ("b1", "missing_features", 29900, dict(plan="Business")),
        ("b2", "missing_features", 29900, dict(plan="Business")),
        ("g1", "switching", 9900, {}),
        ("d1", "switching", 50000, dict(outcome="dismissed")),
        ("old", "switching", 70000, dict(days_ago=90)),
    ]:
        complete_session(site, sub, reason, mrr=mrr, comment=f"comment {sub}", folded=True, **more)
    db.session.commit()


def test_reasons_ranking_by_lost_revenue(client, api_key, history):
    response = client.get("/api/v1/insights/reasons", headers=auth(api_key))
    assert response.status_code == 200
    data = response.get_json()
    assert data["currency"] == "USD"
    assert data["total_lost_mrr"] == 8700 + 59800 + 9900
    rows = [
        (i["reason_id"], i["cancelled"], i["lost_mrr"], i["average_mrr"]) for i in data["items"]
    ]
    assert rows == [
        ("missing_features", 2, 59800, 29900),
        ("switching", 1, 9900, 9900),
        ("too_expensive", 3, 8700, 2900),
    ]
    assert data["items"][0]["share"] == round(59800 / 78400, 4)
    # The same shape as in the sessions, the widget's Result and the webhooks.
    assert data["items"][0]["reason"] == {
        "id": "missing_features",
        "label": "Missing features I need",
    }


def test_ranking_filters_by_plan_and_dates(client, api_key, history):
    starter = client.get("/api/v1/insights/reasons?plan=Starter", headers=auth(api_key)).get_json()
    assert [(i["reason_id"], i["lost_mrr"]) for i in starter["items"]] == [("too_expensive", 8700)]
    old = (datetime.now(UTC).date() - timedelta(days=90)).isoformat()
    window = client.get(f"/api/v1/insights/reasons?from={old}&to={old}", headers=auth(api_key))
    assert window.get_json()["total_lost_mrr"] == 70000


def test_sessions_are_paginated_with_a_cursor(client, api_key, history):
    seen, cursor, pages = [], None, 0
    while True:
        query = "/api/v1/sessions?limit=3&order=oldest" + (f"&cursor={cursor}" if cursor else "")
        data = client.get(query, headers=auth(api_key)).get_json()
        seen += data["items"]
        pages += 1
        cursor = data["next_cursor"]
        if not cursor:
            break
    assert pages == 3 and len(seen) == 7  # the 90-day-old session is outside the default range
    assert len({s["id"] for s in seen}) == 7
    first = seen[0]
    assert set(first) >= {
        "id",
        "customer_id",
        "plan",
        "mrr",
        "currency",
        "reason",
        "comment",
        "offer",
        "outcome",
        "started_at",
        "completed_at",
    }
    assert first["customer_id"] == "s0" and first["reason"]["id"] == "too_expensive"
    assert first["started_at"].endswith("+00:00")


def test_api_key_belongs_to_one_site(client, db, api_key, history):
    _, other_key = make_site("Other")
    data = client.get("/api/v1/sessions", headers=auth(other_key)).get_json()
    assert data == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_api_key"),
        (auth("kk_live_nope"), "invalid_api_key"),
        ({"Authorization": "Basic x"}, "missing_api_key"),
    ],
)
def test_missing_or_bad_key(client, db, headers, code):
    response = client.get("/api/v1/sessions", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == code


def test_key_use_is_recorded(client, db, site, api_key):
    row = site.api_keys[-1]
    assert row.last_used_at is None
    client.get("/api/v1/sessions", headers=auth(api_key))
    db.session.refresh(row)
    assert row.last_used_at is not None


def test_revoked_key_stops_working(client, db, site, api_key):
    from widget_server.services import sites

    sites.revoke_api_key(site, site.api_keys[-1].id)
    assert client.get("/api/v1/sessions", headers=auth(api_key)).status_code == 401


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("from=2026-13-01", 422, "from"),
        ("from=2026-02-01&to=2026-01-01", 422, "from"),
        ("limit=0", 422, "limit"),
        ("limit=5000", 422, "limit"),
        ("bogus=1", 422, "bogus"),
        ("cursor=%%%", 400, None),
    ],
)
def test_bad_queries(client, api_key, query, status, field):
    response = client.get(f"/api/v1/sessions?{query}", headers=auth(api_key))
    assert response.status_code == status
    error = response.get_json()["error"]
    if field:
        assert field in error["details"]


@pytest.mark.parametrize("dates", ["from=9999-12-01&to=9999-12-15", "from=0001-01-01"])
def test_insights_refuse_dates_out_of_range(client, api_key, dates):
    response = client.get(f"/api/v1/insights/summary?{dates}", headers=auth(api_key))
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_period"


def test_method_not_allowed_uses_envelope(client, api_key):
    response = client.delete("/api/v1/sessions", headers=auth(api_key))
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_openapi_document_covers_both_apis(client, db):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert {
        "/api/v1/widget/{site_key}/sessions",
        "/api/v1/widget/{site_key}/sessions/{session_id}/answer",
        "/api/v1/widget/{site_key}/sessions/{session_id}/complete",
        "/api/v1/sessions",
        "/api/v1/insights/reasons",
        "/api/v1/roadmap/items",
        "/api/v1/roadmap/items/{item_id}",
        "/api/v1/widget/{site_key}/roadmap",
        "/api/v1/widget/{site_key}/roadmap/items/{item_id}/vote",
    } <= set(spec["paths"])
    result = spec["components"]["schemas"]["ResultOut"]["properties"]
    assert {"outcome", "reason", "comment", "offer", "session", "receipt"} <= set(result)


def test_unexpected_errors_use_the_envelope_without_details(client, api_key, monkeypatch, caplog):
    from widget_server.services import insights

    def boom(*args, **kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(insights, "reason_ranking", boom)
    response = client.get("/api/v1/insights/reasons", headers=auth(api_key))
    assert response.status_code == 500
    assert response.get_json() == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side"}
    }
    assert "hunter2" not in response.get_data(as_text=True)
    assert "Unhandled error" in caplog.text


def test_ranking_is_one_query(db, site, history):
    from widget_server.services import insights

    statements = []

    def record(conn, cursor, statement, *args):
        if not statement.startswith(("SAVEPOINT", "RELEASE")):
            statements.append(statement)

    db.session.refresh(site)  # the fixture's commit expired it; loading it is not the ranking

    bind = db.engines[None]  # the test's connection
    sa.event.listen(bind, "before_cursor_execute", record)
    try:
        ranking = insights.reason_ranking(site, Filter(Period.last_days(30)))
    finally:
        sa.event.remove(bind, "before_cursor_execute", record)
    assert len(ranking["items"]) == 3
    assert len(statements) == 1, statements


def test_insights_json(client, api_key, history):
    summary = client.get("/api/v1/insights/summary", headers=auth(api_key)).get_json()
    assert summary["current"]["lost_mrr"] == 78400 and summary["current"]["cancelled"] == 6
    segments = client.get("/api/v1/insights/segments?by=plan", headers=auth(api_key)).get_json()
    assert [(i["segment"], i["lost_mrr"]) for i in segments["items"]] == [
        ("Business", 59800), ("Growth", 9900), ("Starter", 8700),
    ]  # fmt: skip
    starter = client.get("/api/v1/insights/summary?plan=Starter", headers=auth(api_key))
    assert starter.get_json()["current"]["lost_mrr"] == 8700
    offers = client.get("/api/v1/insights/offers", headers=auth(api_key)).get_json()
    assert offers["items"][0]["offer_id"] == "discount_30" and offers["items"][0]["shown"] == 3
    trend = client.get("/api/v1/insights/trend", headers=auth(api_key)).get_json()
    assert sum(sum(s["values"]) for s in trend["series"]) == 78400
    bad = client.get("/api/v1/insights/segments?by=zodiac", headers=auth(api_key))
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_segment"
    bad_segment = client.get("/api/v1/insights/summary?segment=region", headers=auth(api_key))
    assert bad_segment.status_code == 422


def test_csv_export_round_trip(admin_client, client, db, site, history):
    import csv
    import io

    from widget_server.models import CancellationSession

    response = admin_client.get(f"/admin/sites/{site.key}/sessions.csv?outcome=cancelled")
    assert (
        response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    )
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    expected = db.session.scalars(
        sa.select(CancellationSession).where(CancellationSession.outcome == "cancelled")
    ).all()
    assert sorted(r["session_id"] for r in rows) == sorted(s.public_id for s in expected)
    assert sum(int(r["mrr"]) for r in rows) == sum(s.mrr for s in expected)
    first = next(r for r in rows if r["customer_id"] == "s0")
    assert (first["reason_id"], first["comment"], first["plan"]) == (
        "too_expensive",
        "comment s0",
        "Starter",
    )


def test_csv_neutralises_formulas(admin_client, db, site):
    start_flow(site, "=HYPERLINK(1)", "other", mrr=1, comment="=cmd|' /C calc'!A0")
    db.session.commit()
    text = admin_client.get(f"/admin/sites/{site.key}/sessions.csv").get_data(as_text=True)
    assert "'=cmd|" in text and "'=HYPERLINK(1)" in text


def test_csv_export_streams_more_than_one_batch(admin_client, db, site):
    from widget_server.reports.csv_export import BATCH
    from widget_server.services import seed

    seed.seed_sessions(site, BATCH * 2 + 7)
    db.session.commit()
    response = admin_client.get(f"/admin/sites/{site.key}/sessions.csv")
    assert response.is_streamed
    lines = response.get_data(as_text=True).splitlines()
    assert len(lines) == BATCH * 2 + 7 + 1  # rows + header


def test_sessions_come_newest_first_and_from_alone_runs_to_today(client, api_key, history):
    old = (datetime.now(UTC).date() - timedelta(days=90)).isoformat()
    seen, cursor = [], None
    while True:
        query = f"/api/v1/sessions?from={old}&limit=3" + (f"&cursor={cursor}" if cursor else "")
        data = client.get(query, headers=auth(api_key)).get_json()
        seen += data["items"]
        cursor = data["next_cursor"]
        if not cursor:
            break
    # From that day until today: the 90-day-old session and all of today's; newest first.
    assert len(seen) == 8 and seen[-1]["customer_id"] == "old"
    starts = [s["started_at"] for s in seen]
    assert starts == sorted(starts, reverse=True)
    oldest = client.get(f"/api/v1/sessions?from={old}&order=oldest", headers=auth(api_key))
    assert oldest.get_json()["items"][0]["customer_id"] == "old"
    # A cursor continues the order it came from.
    first = client.get("/api/v1/sessions?limit=1", headers=auth(api_key)).get_json()
    mixed = client.get(
        f"/api/v1/sessions?order=oldest&cursor={first['next_cursor']}", headers=auth(api_key)
    )
    assert mixed.status_code == 400 and mixed.get_json()["error"]["code"] == "invalid_cursor"
