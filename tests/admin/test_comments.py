"""The Comments page: what cancelling customers wrote, by reason, the costliest reason first,
with a search."""

from __future__ import annotations

import html
import re

from tests.factories import make_token
from widget_server.services import flow
from widget_server.services.tokens import verify_customer_token


def left(db, site, sub, reason, comment, mrr, outcome="cancelled"):
    claims = verify_customer_token(site, make_token(site, sub, mrr=mrr, plan="Growth"))
    session, _ = flow.start_session(site, claims, locale="en")
    flow.answer_session(site, session, reason_key=reason, comment=comment)
    flow.complete_session(site, session, outcome=outcome)
    db.session.commit()
    return session


def headings(page: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", h)).split(" ")[0:2] for h in
            re.findall(r"<h2 id=\"reason-[^\"]+\">(.*?)</h2>", page, re.S)]  # fmt: skip


def test_comments_by_reason_costliest_first_with_search(admin_client, db, site):
    left(db, site, "a", "too_expensive", "The price doubled", 2000)
    left(db, site, "b", "too_expensive", "Cheaper elsewhere", 3000)
    left(db, site, "c", "missing_features", "No Okta SSO, price is fine", 90000)
    left(db, site, "d", "missing_features", None, 50000)  # no comment: not listed
    left(db, site, "e", "other", "<script>alert(1)</script>", 100)
    page = admin_client.get(f"/admin/sites/{site.key}/comments").get_data(as_text=True)
    assert headings(page) == [["Missing", "features"], ["Too", "expensive"], ["Other", "1"]]
    assert "1 comment · $1,400 lost MRR" in html.unescape(page)  # the reason's loss: both
    assert "2 comments" in page and "The price doubled" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    found = admin_client.get(f"/admin/sites/{site.key}/comments?q=price").get_data(as_text=True)
    assert headings(found) == [["Missing", "features"], ["Too", "expensive"]]
    assert "Cheaper elsewhere" not in found and "The price doubled" in found
    none = admin_client.get(f"/admin/sites/{site.key}/comments?q=zebra").get_data(as_text=True)
    assert "No comment in this period contains “zebra”." in html.unescape(none)


def test_a_long_reason_links_to_all_its_comments(admin_client, db, site):
    for n in range(7):
        left(db, site, f"p{n}", "too_expensive", f"Too dear {n}", 1000)
    page = html.unescape(
        admin_client.get(f"/admin/sites/{site.key}/comments").get_data(as_text=True)
    )
    assert page.count("Too dear") == 5  # the five newest
    assert "Too dear 6" in page and "Too dear 1" not in page
    link = re.search(r'href="([^"]*sessions\?[^"]*)">All 7 comments for', page).group(1)
    listed = admin_client.get(link).get_data(as_text=True)
    assert "7 sessions" in listed
