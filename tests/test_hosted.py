"""The hosted, JavaScript-free cancellation page."""

import re

import sqlalchemy as sa

from tests.factories import make_token
from widget_server.models import CancellationSession


def fields(html: str) -> dict:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


def test_no_js_flow_to_cancelled(client, db, site):
    token = make_token(site, "web-1", mrr=4900)
    page = client.get(f"/c/{site.key}?token={token}", headers={"Accept-Language": "de-DE,de"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Warum kündigen Sie?" in html
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp  # no script may run
    assert "<script" not in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CancellationSession)) == 0
    hidden = fields(html)
    data = hidden | {"reason": "switching", "followup_switching": "Globex", "comment": "<i>x</i>"}
    answer = client.post(f"/c/{site.key}", data=data)
    html = answer.get_data(as_text=True)
    assert "Kündigung bestätigen" in html
    replay = client.post(f"/c/{site.key}", data=data)
    assert replay.status_code == 200  # a resubmitted form does not create a second session
    action = re.search(r'action="([^"]+/complete)"', html).group(1)
    done = client.post(action, data=fields(html) | {"outcome": "cancelled"})
    assert done.status_code == 200 and 'data-kk-outcome="cancelled"' in done.get_data(as_text=True)
    session = db.session.scalar(sa.select(CancellationSession))
    assert (session.outcome, session.mrr, session.followup_answer) == ("cancelled", 4900, "Globex")
    assert session.locale == "de"
    count = db.session.scalar(sa.select(sa.func.count()).select_from(CancellationSession))
    assert count == 1


def test_no_js_flow_through_offer_and_decline(client, db, site):
    token = make_token(site)
    hidden = fields(client.get(f"/c/{site.key}?token={token}").get_data(as_text=True))
    html = client.post(f"/c/{site.key}", data=hidden | {"reason": "too_expensive"}).get_data(
        as_text=True
    )
    assert "30% off" in html and 'data-kk="accept-offer"' in html
    decline = re.search(r'action="([^"]+/confirm)"', html).group(1)
    confirm = client.post(decline, data={"token": token}).get_data(as_text=True)
    assert 'data-kk="confirm-cancel"' in confirm
    accept = re.search(r'action="([^"]+/complete)"', html).group(1)
    saved = client.post(accept, data={"token": token, "outcome": "saved", "offer": "discount_30"})
    assert 'data-kk-outcome="saved"' in saved.get_data(as_text=True)


def test_other_without_text_is_asked_again(client, db, site):
    token = make_token(site)
    hidden = fields(client.get(f"/c/{site.key}?token={token}").get_data(as_text=True))
    response = client.post(f"/c/{site.key}", data=hidden | {"reason": "other", "comment": " "})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "please tell us a few words in the comment" in html and 'aria-invalid="true"' in html
    assert "Comment (required for: Other; optional otherwise)" in html
    session = db.session.scalar(sa.select(CancellationSession))
    assert session is None


def test_bad_or_missing_token(client, db, site):
    for query in ("", "?token=nope", f"?token={make_token(site, lifetime=-3600)}"):
        response = client.get(f"/c/{site.key}{query}")
        assert response.status_code == 401
        assert "no longer valid" in response.get_data(as_text=True)
    assert client.get("/c/unknown-site?token=x").status_code == 404


def test_hosted_page_is_rate_limited(app, client, db, site, monkeypatch):
    from widget_server.extensions import limiter

    monkeypatch.setitem(app.config, "KEEPKIT_WIDGET_RATE_LIMIT", "2 per minute")
    limiter.reset()
    token = make_token(site)
    statuses = [client.get(f"/c/{site.key}?token={token}").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_no_js_flow_links_a_roadmap_item(client, db, site):
    from widget_server.services import roadmap

    item = roadmap.create_item(site, title="Okta <SSO>", status="planned")
    db.session.commit()
    token = make_token(site, "needs-sso")
    html = client.get(f"/c/{site.key}?token={token}").get_data(as_text=True)
    assert f'data-kk="roadmap-item" data-kk-id="{item.id}"' in html and "Okta &lt;SSO&gt;" in html
    assert "Which of these did you need? (optional)" in html
    data = fields(html) | {"reason": "missing_features", "roadmap_item": str(item.id)}
    page = client.post(f"/c/{site.key}", data=data).get_data(as_text=True)
    action = re.search(r'action="([^"]+/complete)"', page).group(1)
    client.post(action, data=fields(page) | {"outcome": "cancelled"})
    session = db.session.scalar(sa.select(CancellationSession))
    assert (session.outcome, session.roadmap_item_id) == ("cancelled", item.id)


def test_hosted_page_refuses_what_the_api_refuses(client, db, site):
    """The no-JS door: odd roadmap ids and NUL get a page, never a 500, and store nothing."""
    token = make_token(site, "web-3")
    hidden = fields(client.get(f"/c/{site.key}?token={token}").get_data(as_text=True))
    for item in ("²", "99999999999999999999", str(2**31)):
        data = hidden | {"reason": "missing_features", "roadmap_item": item}
        response = client.post(f"/c/{site.key}", data=data)
        assert response.status_code in (200, 422), item
    nul = client.post(f"/c/{site.key}", data=hidden | {"reason": "other", "comment": "hi\x00"})
    assert nul.status_code == 400 and "<html" in nul.get_data(as_text=True)
    sessions = db.session.scalars(sa.select(CancellationSession)).all()
    assert all(s.comment is None and s.roadmap_item_id is None for s in sessions)


def test_keep_my_subscription_is_a_save_without_offer(client, db, site):
    token = make_token(site, "stayer")
    hidden = fields(client.get(f"/c/{site.key}?token={token}").get_data(as_text=True))
    html = client.post(f"/c/{site.key}", data=hidden | {"reason": "switching"}).get_data(
        as_text=True
    )
    keep = re.search(r'value="saved">\s*<button type="submit" class="pri" data-kk="keep"', html)
    assert keep, html
    action = re.search(r'action="([^"]+/complete)"', html).group(1)
    done = client.post(action, data={"token": token, "outcome": "saved"}).get_data(as_text=True)
    assert 'data-kk="done" data-kk-outcome="saved"' in done and "Nothing changes" in done
    session = db.session.scalar(sa.select(CancellationSession))
    assert (session.outcome, session.offer_id) == ("saved", None)


def test_errors_speak_the_customers_language_without_codes(client, db, site):
    for query in ("?token=nope", f"?token={make_token(site, lifetime=-3600)}"):
        html = client.get(f"/c/{site.key}{query}", headers={"Accept-Language": "de"}).text
        assert "Dieser Link ist nicht mehr gültig" in html
        assert "token_" not in html and "(" not in html.split("<main", 1)[1]
    token = make_token(site, "twice")
    hidden = fields(client.get(f"/c/{site.key}?token={token}").get_data(as_text=True))
    html = client.post(f"/c/{site.key}", data=hidden | {"reason": "switching"}).text
    action = re.search(r'action="([^"]+/complete)"', html).group(1)
    client.post(action, data={"token": token, "outcome": "cancelled"})
    again = client.post(action, data={"token": token, "outcome": "saved", "locale": "fi"}).get_data(
        as_text=True
    )
    assert "Tämä peruutus on jo tehty" in again and "session_completed" not in again


def test_the_done_page_links_back_to_the_app(client, db, site):
    from widget_server.services import sites

    sites.update_site(
        site, name=site.name, default_locale="en", currency="USD", brand_color="#4f46e5",
        discount_window_days=365, app_url="https://app.example.com/account",
    )  # fmt: skip
    db.session.commit()
    token = make_token(site, "back")
    hidden = fields(client.get(f"/c/{site.key}?token={token}").get_data(as_text=True))
    html = client.post(f"/c/{site.key}", data=hidden | {"reason": "switching"}).text
    action = re.search(r'action="([^"]+/complete)"', html).group(1)
    done = client.post(action, data={"token": token, "outcome": "cancelled"}).text
    assert '<a class="back" href="https://app.example.com/account" data-kk="back">' in done
    assert f"Back to {site.name}" in done


def test_the_app_address_must_be_a_web_address(db, site):
    import pytest

    from widget_server.errors import ValidationError
    from widget_server.services import sites

    for bad in ("javascript:alert(1)", "ftp://x", "app.example.com", "https://x/\nb"):
        with pytest.raises(ValidationError):
            sites.update_site(
                site, name=site.name, default_locale="en", currency="USD",
                brand_color="#4f46e5", discount_window_days=365, app_url=bad,
            )  # fmt: skip


def test_no_js_flow_for_a_customer_in_the_holdout_offers_nothing_and_cancels(client, db, site):
    from widget_server.services import experiments

    experiments.set_holdout(site, 50, by="x")
    db.session.commit()
    arms = {}
    for n in range(12):
        token = make_token(site, f"h{n}")
        hidden = fields(client.get(f"/c/{site.key}?token={token}").get_data(as_text=True))
        html = client.post(f"/c/{site.key}", data=hidden | {"reason": "too_expensive"}).get_data(
            as_text=True
        )
        session = db.session.scalar(
            sa.select(CancellationSession).where(CancellationSession.public_id == hidden["session"])
        )
        arms[n] = session.holdout_arm
        if session.holdout_arm == "holdout":
            assert 'data-kk="accept-offer"' not in html and "30% off" not in html
            assert 'data-kk="confirm-cancel"' in html
            action = re.search(r'action="([^"]+/complete)"', html).group(1)
            done = client.post(action, data=fields(html) | {"outcome": "cancelled"})
            assert 'data-kk-outcome="cancelled"' in done.get_data(as_text=True)
        else:
            assert 'data-kk="accept-offer"' in html
    assert set(arms.values()) == {"holdout", "offers"}


def test_a_too_long_comment_is_refused_with_the_limit_written_the_customers_way(client, db, site):
    token = make_token(site, "wordy")
    page = client.get(f"/c/{site.key}?token={token}&locale=de").get_data(as_text=True)
    assert 'maxlength="2000"' in page
    hidden = fields(page)
    data = hidden | {"reason": "other", "comment": "x" * 2001, "locale": "de"}
    response = client.post(f"/c/{site.key}", data=data)
    assert response.status_code == 422
    assert "Bitte fassen Sie sich kürzer als 2.000 Zeichen." in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(CancellationSession)) is None


def test_the_page_speaks_the_browsers_first_shipped_language(client, db, site):
    """A browser that prefers a language Keepkit does not ship gets its next one that it
    does, not the site's default; the integrator's ``locale`` still comes first."""
    token = make_token(site, "polyglot")
    prefers = {"Accept-Language": "sv-SE, fi;q=0.8, en;q=0.5"}
    page = client.get(f"/c/{site.key}?token={token}", headers=prefers).get_data(as_text=True)
    assert 'lang="fi"' in page
    page = client.get(f"/c/{site.key}?token={token}&locale=de", headers=prefers).text
    assert 'lang="de"' in page
