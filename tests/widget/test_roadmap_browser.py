"""The roadmap widget and the cancel flow's roadmap items, in a real Chromium."""

from __future__ import annotations

import gzip
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from tests.factories import make_site, make_token
from widget_server.extensions import db
from widget_server.models import CancellationSession, RoadmapItem, Site, Vote
from widget_server.services import roadmap

pytestmark = pytest.mark.browser


@pytest.fixture
def board_site(live_app, host_server):
    with live_app.app_context():
        site, _ = make_site("Board", origins=[host_server.url])
        ids = {
            title: roadmap.create_item(site, title=title, status=status, description=desc).id
            for title, status, desc in [
                ("Okta SSO", "planned", "Sign in with **Okta**."),
                ("Dark mode", "in_progress", ""),
                ("CSV export", "shipped", ""),
            ]
        }
        db.session.commit()
        return {"key": site.key, "secret": site.secret_primary, "ids": ids}


def open_board(page, keepkit_server, host_server, board_site, sub="fan", token=True, **extra):
    query = {
        "keepkit": keepkit_server.url,
        "site": board_site["key"],
        "token": make_token(board_site["secret"], sub, company="acme"),
        **extra,
    }
    page.goto(f"{host_server.url}/?{urlencode(query)}")
    page.wait_for_function("window.Keepkit && window.Keepkit.version === '1'")
    page.evaluate(f"() => {{ showRoadmap({'true' if token else 'false'}); }}")
    page.wait_for_function("window.boardReady === true")


def votes_in_db(live_app, item_id):
    with live_app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).where(Vote.item_id == item_id))
        db.session.remove()
        return count


def test_vote_unvote_and_returning_voter(page, live_app, keepkit_server, host_server, board_site):
    open_board(page, keepkit_server, host_server, board_site)
    sso = board_site["ids"]["Okta SSO"]
    item = page.locator(f'[data-kk="item"][data-kk-id="{sso}"]')
    assert "Sign in with Okta." in item.text_content()
    vote = item.locator('[data-kk="vote"]')
    assert vote.get_attribute("aria-pressed") == "false"
    # Its accessible name begins with what it shows and names the item (no label mismatch).
    assert vote.text_content() == "0 votes"
    assert vote.get_attribute("aria-label") == "0 votes, vote for Okta SSO"
    with page.expect_response(lambda r: r.url.endswith("/vote")):
        vote.click()  # the count changes at once; the server's answer follows
    page.wait_for_function(
        f"""() => document.querySelector('keepkit-roadmap').shadowRoot
            .querySelector('[data-kk-id="{sso}"] [data-kk=vote-count]').textContent === '1'"""
    )
    assert vote.get_attribute("aria-pressed") == "true"
    assert vote.get_attribute("aria-label") == "1 vote, vote for Okta SSO"
    assert votes_in_db(live_app, sso) == 1
    # A returning customer sees their vote.
    open_board(page, keepkit_server, host_server, board_site)
    vote = page.locator(f'[data-kk="item"][data-kk-id="{sso}"] [data-kk="vote"]')
    assert vote.get_attribute("aria-pressed") == "true"
    with page.expect_response(lambda r: r.url.endswith("/vote")):
        vote.press("Enter")  # keyboard works too
    pressed = f"""document.querySelector('keepkit-roadmap').shadowRoot
        .querySelector('[data-kk-id="{sso}"] [data-kk=vote]').getAttribute('aria-pressed')"""
    page.wait_for_function(f"() => {pressed} === 'false'")
    assert votes_in_db(live_app, sso) == 0
    shipped = board_site["ids"]["CSV export"]
    assert page.locator(f'[data-kk-id="{shipped}"] [data-kk="vote"]').count() == 0


def test_viewing_needs_no_token(page, keepkit_server, host_server, board_site):
    open_board(page, keepkit_server, host_server, board_site, token=False, locale="de")
    assert page.locator("keepkit-roadmap h2").first.text_content().startswith("In Prüfung")
    assert "Melden Sie sich an" in page.locator("keepkit-roadmap .note").text_content()
    assert page.locator('[data-kk="vote"]').first.is_disabled()


def test_suggest_shows_similar_and_queues_for_moderation(
    page, live_app, keepkit_server, host_server, board_site
):
    open_board(page, keepkit_server, host_server, board_site, sub="ideas")
    page.click('[data-kk="suggest"]')
    title = page.locator("keepkit-roadmap input[name=title]")
    details = page.locator("keepkit-roadmap textarea[name=description]")
    # The form's limits come from the board's answer: the API's one definition of them.
    assert (title.get_attribute("minlength"), title.get_attribute("maxlength")) == ("3", "200")
    assert details.get_attribute("maxlength") == "5000"
    page.fill("keepkit-roadmap input[name=title]", "Okta login for teams")
    page.locator("keepkit-roadmap .sim li").first.wait_for()
    assert page.locator("keepkit-roadmap .sim li").first.text_content() == "Okta SSO"
    page.click("keepkit-roadmap form button[type=submit]")
    page.get_by_text("Thank you! We will review your idea.").wait_for()
    with live_app.app_context():
        item = db.session.scalar(
            sa.select(RoadmapItem).where(RoadmapItem.title == "Okta login for teams")
        )
        assert item.moderation == "pending"
        db.session.remove()


def test_cancel_flow_offers_roadmap_items(page, live_app, keepkit_server, host_server, board_site):
    query = {
        "keepkit": keepkit_server.url,
        "site": board_site["key"],
        "token": make_token(board_site["secret"], "leaver", mrr=29900),
    }
    page.goto(f"{host_server.url}/?{urlencode(query)}")
    page.wait_for_function("window.Keepkit && window.Keepkit.version === '1'")
    page.click("#cancel")
    page.click('[data-kk="reason"][data-kk-id="missing_features"]')
    sso = board_site["ids"]["Okta SSO"]
    page.click(f'[data-kk="roadmap-item"][data-kk-id="{sso}"]')
    page.click('[data-kk="next"]')
    page.click('[data-kk="confirm-cancel"]')
    page.wait_for_function("document.getElementById('result').textContent.length > 0")
    with live_app.app_context():
        session = db.session.scalar(
            sa.select(CancellationSession).where(
                CancellationSession.customer.has(external_id="leaver")
            )
        )
        assert (session.outcome, session.roadmap_item_id) == ("cancelled", sso)
        db.session.remove()


def test_roadmap_budget(page, keepkit_server, host_server, board_site):
    requests = []
    page.on("requestfinished", lambda request: requests.append(request))
    open_board(page, keepkit_server, host_server, board_site)
    keepkit = [r for r in requests if r.url.startswith(keepkit_server.url)]
    total = sum(len(gzip.compress(r.response().body(), 9)) for r in keepkit)
    assert total <= 8 * 1024, f"{total} bytes gzip"
    assert [r.method for r in keepkit if "/api/" in r.url] == ["POST"]


@pytest.mark.parametrize("width", [1280, 360])
def test_german_vote_label_fits_its_box(
    page, live_app, keepkit_server, host_server, board_site, width
):
    with live_app.app_context():  # a long German title presses on the vote button
        item = db.session.get(RoadmapItem, board_site["ids"]["Okta SSO"])
        long_title = "Verzeichnisdienstanbieterschnittstellenkonfiguration"
        site = db.session.get(Site, item.site_id)
        roadmap.update_item(site, item, title=long_title, status=item.status)
        db.session.commit()
        db.session.remove()
    page.set_viewport_size({"width": width, "height": 900})
    open_board(page, keepkit_server, host_server, board_site, locale="de")
    sizes = page.evaluate(
        """() => [...document.querySelector('keepkit-roadmap').shadowRoot
            .querySelectorAll('.v')].map(v => {
              const box = v.getBoundingClientRect(), word = v.querySelector('b + span')
                .getBoundingClientRect();
              return [v.textContent, word.left >= box.left && word.right <= box.right,
                      v.scrollWidth <= v.clientWidth];
            })"""
    )
    assert sizes and all("Stimme" in text for text, _, _ in sizes)
    assert all(inside and fits for _, inside, fits in sizes), sizes
    # The long word wraps inside its card: nothing is wider than the page.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
