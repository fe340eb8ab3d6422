import re
import time
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.clients import csrf_token, login, token_of
from tests.factories import complete_session, make_admin, make_site
from widget_server.extensions import db
from widget_server.models import CancellationSession, Offer, Reason
from widget_server.services import flow, sessions


def add_cancellation(site, reason="too_expensive", mrr=9900, comment="<script>alert(1)</script>"):
    """A committed cancellation; one customer per (MRR, reason)."""
    session = complete_session(site, f"c{mrr}{reason}", reason, mrr=mrr, comment=comment)
    db.session.commit()
    return session


@pytest.mark.parametrize("page", ["", "sessions", "settings"])
def test_anonymous_users_are_sent_to_login(client, site, page):
    response = client.get(f"/admin/sites/{site.key}/{page}")
    assert response.status_code == 302
    assert "/admin/login?next=" in response.headers["Location"]
    htmx = client.get(f"/admin/sites/{site.key}/{page}", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and "/admin/login" in htmx.headers["HX-Redirect"]


def test_login_logout_and_wrong_password(client, admin, site):
    bad = login(client, password="wrong password!")
    assert bad.status_code == 401 and "Wrong email or password" in bad.get_data(as_text=True)
    ok = login(client)
    assert ok.status_code == 302
    cookie = next(c for c in ok.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get(f"/admin/sites/{site.key}/").status_code == 200
    client.post("/admin/logout", data={"csrf_token": token_of(client, site)})
    assert client.get(f"/admin/sites/{site.key}/").status_code == 302


def test_login_follows_only_local_next(client, admin):
    token = csrf_token(client)
    creds = {"email": "pm@example.com", "password": "correct horse battery", "csrf_token": token}
    response = client.post("/admin/login?next=https://evil.test/x", data=creds)
    assert response.headers["Location"] == "/admin/"


def test_login_requires_csrf(client, admin):
    response = client.post(
        "/admin/login", data={"email": "pm@example.com", "password": "correct horse battery"}
    )
    assert response.status_code == 400


def test_admins_see_only_their_sites(client, db, site):
    other, _ = make_site("Other")
    make_admin("scoped@example.com", sites=[other], owner=False)
    login(client, "scoped@example.com")
    assert client.get(f"/admin/sites/{other.key}/").status_code == 200
    for page in ("", "sessions", "settings"):
        assert client.get(f"/admin/sites/{site.key}/{page}").status_code == 404
    response = client.post(
        f"/admin/sites/{site.key}/secret/rotate",
        data={"csrf_token": csrf_token(client, f"/admin/sites/{other.key}/settings")},
    )
    assert response.status_code == 404


def test_dashboard_ranks_reasons_by_lost_revenue(admin_client, db, site):
    add_cancellation(site, "too_expensive", 2900)
    add_cancellation(site, "missing_features", 29900)
    html = admin_client.get(f"/admin/sites/{site.key}/").get_data(as_text=True)
    assert html.index("Missing features I need") < html.index("Too expensive")
    assert "$299" in html and "$328" in html
    assert "91.2%" in html  # 29900 / 32800


def test_dashboard_range_updates_in_place(admin_client, db, site):
    add_cancellation(site)
    url = f"/admin/sites/{site.key}/?from=2020-01-01&to=2020-01-31"
    fragment = admin_client.get(url, headers={"HX-Request": "true"})
    assert "HX-Request" in fragment.headers["Vary"]
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and "No cancellations in this period" in html
    full = admin_client.get(url).get_data(as_text=True)
    assert "<html" in full and 'hx-target="#ranking"' in full
    bad = admin_client.get(f"/admin/sites/{site.key}/?from=2020-02-01&to=2020-01-01")
    assert "start date is after the end date" in bad.get_data(as_text=True)


def test_sessions_list_filters_and_escapes_comments(admin_client, site):
    add_cancellation(site, "too_expensive", 2900)
    add_cancellation(site, "switching", 9900, comment="Moving to Globex")
    html = admin_client.get(f"/admin/sites/{site.key}/sessions").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    filtered = admin_client.get(
        f"/admin/sites/{site.key}/sessions?reason=switching", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert "Moving to Globex" in filtered and "alert(1)" not in filtered


def test_sessions_list_paginates(admin_client, db, site):
    for i in range(52):
        add_cancellation(site, "switching", 100 + i, comment=f"comment number {i}")
    first = admin_client.get(f"/admin/sites/{site.key}/sessions").get_data(as_text=True)
    assert first.count("comment number") == 50 and "Older" in first
    second = admin_client.get(f"/admin/sites/{site.key}/sessions?page=2").get_data(as_text=True)
    assert second.count("comment number") == 2 and "Newer" in second


def test_mutations_require_csrf(admin_client, db, site):
    before = site.secret_primary
    response = admin_client.post(f"/admin/sites/{site.key}/secret/rotate")
    assert response.status_code == 400
    db.session.refresh(site)
    assert site.secret_primary == before


def test_create_edit_reorder_and_archive_reasons(admin_client, db, site):
    token = token_of(admin_client, site)
    created = admin_client.post(
        f"/admin/sites/{site.key}/reasons/new",
        data={"csrf_token": token, "label_en": "Seasonal business", "label_de": "Saisonal"},
    )
    assert created.status_code == 302
    reason = db.session.scalar(sa.select(Reason).where(Reason.key == "seasonal_business"))
    assert reason.labels == {"en": "Seasonal business", "de": "Saisonal"}
    empty = admin_client.post(
        f"/admin/sites/{site.key}/reasons/{reason.id}", data={"csrf_token": token, "label_en": ""}
    )
    assert empty.status_code == 422 and "English text" in empty.get_data(as_text=True)
    up = admin_client.post(
        f"/admin/sites/{site.key}/reasons/{reason.id}/up",
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert up.status_code == 200 and "<html" not in up.get_data(as_text=True)
    order = [r.key for r in flow.active_reasons(site)]
    assert order.index("seasonal_business") == order.index("other") - 1
    admin_client.post(
        f"/admin/sites/{site.key}/reasons/{reason.id}/archive", headers={"X-CSRFToken": token}
    )
    assert "seasonal_business" not in [r.key for r in flow.active_reasons(site)]


def test_offer_form_validates_and_saves(admin_client, db, site):
    token = token_of(admin_client, site)
    reason = db.session.scalar(sa.select(Reason).where(Reason.key == "switching"))
    data = {
        "csrf_token": token,
        "type": "discount",
        "title_en": "Half price",
        "discount_percent": "150",
    }
    bad = admin_client.post(f"/admin/sites/{site.key}/offers/new", data=data)
    assert bad.status_code == 422 and "discount %" in bad.get_data(as_text=True)
    data |= {"discount_percent": "50", "discount_months": "2", "reason_ids": [str(reason.id)]}
    data |= {"plans": "Growth, Business", "min_mrr": "49.00"}
    assert admin_client.post(f"/admin/sites/{site.key}/offers/new", data=data).status_code == 302
    offer = db.session.scalar(sa.select(Offer).where(Offer.key == "half_price"))
    assert offer.discount_percent == 50 and offer.plans == ["Growth", "Business"]
    assert offer.min_mrr == 4900 and [r.key for r in offer.reasons] == ["switching"]


def test_origins_secret_rotation_and_api_keys(admin_client, db, site):
    token = token_of(admin_client, site)
    base = f"/admin/sites/{site.key}"
    admin_client.post(
        f"{base}/origins", data={"csrf_token": token, "origin": "https://new.example.com/path"}
    )
    assert "https://new.example.com" in [o.origin for o in site.origins]
    bad = admin_client.post(
        f"{base}/origins",
        data={"csrf_token": token, "origin": "javascript:x"},
        follow_redirects=True,
    )
    assert "is not an origin" in bad.get_data(as_text=True)
    old = site.secret_primary
    admin_client.post(f"{base}/secret/rotate", data={"csrf_token": token})
    db.session.refresh(site)
    assert site.secret_secondary == old and site.secret_primary != old
    page = admin_client.post(f"{base}/api-keys", data={"csrf_token": token}).get_data(as_text=True)
    new_key = re.search(r'id="new-api-key">([^<]+)<', page).group(1)
    assert (
        admin_client.get(
            "/api/v1/sessions", headers={"Authorization": f"Bearer {new_key}"}
        ).status_code
        == 200
    )


def test_settings_shows_the_embed_snippet(admin_client, site):
    html = admin_client.get(f"/admin/sites/{site.key}/settings").get_data(as_text=True)
    assert f'data-site="{site.key}"' in html.replace("&#34;", '"') or (
        f"data-site=&#34;{site.key}&#34;" in html or f'data-site="{site.key}"' in html
    )
    assert "/widget/v1/keepkit.js" in html and 'data-copy="#snippet"' in html


def test_session_counts_unchanged_by_admin_views(admin_client, db, site):
    add_cancellation(site)
    admin_client.get(f"/admin/sites/{site.key}/")
    total = db.session.scalar(sa.select(sa.func.count()).select_from(CancellationSession))
    assert total == 1


def test_login_is_rate_limited(app, client, admin, monkeypatch):
    from widget_server.extensions import limiter

    monkeypatch.setitem(app.config, "KEEPKIT_LOGIN_RATE_LIMIT", "3 per minute")
    limiter.reset()
    statuses = [login(client, password="wrong password!").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_general_settings(admin_client, db, site):
    token = token_of(admin_client, site)
    data = {
        "csrf_token": token, "name": "Acme EU", "default_locale": "de", "currency": "eur",
        "brand_color": "#112233", "discount_window_days": "90",
    }  # fmt: skip
    admin_client.post(f"/admin/sites/{site.key}/general", data=data)
    db.session.refresh(site)
    assert (site.name, site.default_locale, site.currency) == ("Acme EU", "de", "EUR")
    assert (site.brand_color, site.discount_window_days) == ("#112233", 90)
    bad = admin_client.post(
        f"/admin/sites/{site.key}/general",
        data=data | {"brand_color": "red", "name": "Changed"},
        follow_redirects=True,
    )
    assert "Use a colour like #4f46e5" in bad.get_data(as_text=True)
    db.session.refresh(site)
    assert site.name == "Acme EU"


@pytest.fixture
def server_in_another_day(monkeypatch):
    """The server's local time zone is one where the date is not UTC's right now (UTC+14
    late in the UTC day, UTC-12 early in it): figures must still follow UTC days."""
    zone = "Etc/GMT-14" if datetime.now(UTC).hour >= 10 else "Etc/GMT+12"
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    assert date.today() != datetime.now(UTC).date()  # noqa: DTZ011 - the point of the fixture
    yield
    monkeypatch.undo()
    time.tzset()


def test_preset_range_updates_the_date_fields_too(admin_client, site, server_in_another_day):
    fragment = admin_client.get(
        f"/admin/sites/{site.key}/?range=7d", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    start = (datetime.now(UTC).date() - timedelta(days=6)).isoformat()
    assert re.search(rf'id="f-from" name="from" value="{start}" hx-swap-oob="true"', fragment)


def test_dashboard_shows_insights_with_a_bounded_number_of_queries(admin_client, db, site):
    def count_queries(url):
        statements = []
        bind = db.engines[None]

        def record(conn, cursor, statement, *args):
            if statement.lstrip().upper().startswith("SELECT"):
                statements.append(statement)

        sa.event.listen(bind, "before_cursor_execute", record)
        try:
            response = admin_client.get(url)
        finally:
            sa.event.remove(bind, "before_cursor_execute", record)
        return response, len(statements)

    page = f"/admin/sites/{site.key}/?by=tenure"
    add_cancellation(site, "too_expensive", 2900)
    _, fold_one = count_queries(page)  # the page counts the queued completion first
    _, few = count_queries(page)
    for i in range(30):
        add_cancellation(site, "switching", 1000 + i, comment=f"c{i}")
    _, fold_many = count_queries(page)
    large, many = count_queries(page)
    html = large.get_data(as_text=True)
    assert "Save rate" in html and "<svg" in html and "Churn by tenure" in html
    assert few == many <= 20  # no query per session, reason or month
    assert fold_one == fold_many <= many + 8  # counting queued completions: a few, however many


def test_drill_down_and_comment_search(admin_client, site):
    add_cancellation(site, "switching", 9900, comment="Moved to Globex for the API")
    add_cancellation(site, "switching", 9900, comment="Too slow")
    html = admin_client.get(f"/admin/sites/{site.key}/").get_data(as_text=True)
    link = re.search(r'href="(/admin/sites/[^"]+/sessions\?[^"]*reason=switching[^"]*)"', html)
    drilled = admin_client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "Moved to Globex" in drilled and "Too slow" in drilled
    found = admin_client.get(
        f"/admin/sites/{site.key}/sessions?q=globex", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert "Moved to Globex" in found and "Too slow" not in found


def test_a_search_stops_counting_after_many_matches(admin_client, site, monkeypatch):
    for n in range(4):
        add_cancellation(site, "switching", 9900, comment=f"The price, again ({n})")
    add_cancellation(site, "switching", 9900, comment="Too slow")
    page = f"/admin/sites/{site.key}/sessions?q=price"
    html = admin_client.get(page).get_data(as_text=True)
    assert "4 sessions" in html and "More than" not in html
    monkeypatch.setattr(sessions, "SEARCH_COUNT_CAP", 3)
    html = admin_client.get(page).get_data(as_text=True)
    assert "More than 3 sessions · page 1" in html and "The price, again (0)" in html
    unfiltered = admin_client.get(f"/admin/sites/{site.key}/sessions").get_data(as_text=True)
    assert "5 sessions" in unfiltered  # without a search the count is exact


SITE_PAGES = [
    "", "sessions", "sessions.csv", "report.pdf", "settings", "roadmap", "outbox",
]  # fmt: skip


@pytest.mark.parametrize("page", SITE_PAGES)
def test_every_site_page_is_for_that_sites_admins_only(client, db, site, page):
    anonymous = client.get(f"/admin/sites/{site.key}/{page}")
    assert anonymous.status_code == 302 and "/admin/login" in anonymous.headers["Location"]
    other, _ = make_site("Other")
    make_admin("scoped@example.com", sites=[other], owner=False)
    login(client, "scoped@example.com")
    assert client.get(f"/admin/sites/{site.key}/{page}").status_code == 404
    assert client.get(f"/admin/sites/{other.key}/{page}").status_code == 200


def test_exchange_rates_in_settings_and_on_the_dashboard(admin_client, db, site):
    complete_session(site, "eu", "switching", mrr=10000, currency="EUR")
    db.session.commit()
    html = admin_client.get(f"/admin/sites/{site.key}/").get_data(as_text=True)
    assert "1 session is in a currency without an exchange rate" in html
    settings = admin_client.get(f"/admin/sites/{site.key}/settings").get_data(as_text=True)
    assert "No rate yet for: EUR." in settings
    token = token_of(admin_client, site)
    admin_client.post(
        f"/admin/sites/{site.key}/rates",
        data={"csrf_token": token, "currency": "EUR", "rate": "1,10"},
    )
    html = admin_client.get(f"/admin/sites/{site.key}/").get_data(as_text=True)
    assert "$110" in html and "converted to USD at the rates set in Settings (EUR 1.1)" in html
