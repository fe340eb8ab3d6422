"""The Comments page: what cancelling customers wrote, by reason, the costliest reason first,
with a search."""

from __future__ import annotations

import html
import re

from tests.factories import complete_session


def headings(page: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", h)).split(" ")[0:2] for h in
            re.findall(r"<h2 id=\"reason-[^\"]+\">(.*?)</h2>", page, re.S)]  # fmt: skip


def test_comments_by_reason_costliest_first_with_search(admin_client, db, site):
    complete_session(site, "a", "too_expensive", comment="The price doubled", mrr=2000)
    complete_session(site, "b", "too_expensive", comment="Cheaper elsewhere", mrr=3000)
    complete_session(site, "c", "missing_features", comment="No Okta SSO, price is fine", mrr=90000)
    complete_session(site, "d", "missing_features", mrr=50000)  # no comment: not listed
    complete_session(site, "e", "other", comment="<script>alert(1)</script>", mrr=100)
    db.session.commit()
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
        complete_session(site, f"p{n}", "too_expensive", comment=f"Too dear {n}", mrr=1000)
    db.session.commit()
    page = html.unescape(
        admin_client.get(f"/admin/sites/{site.key}/comments").get_data(as_text=True)
    )
    assert page.count("Too dear") == 5  # the five newest
    assert "Too dear 6" in page and "Too dear 1" not in page
    link = re.search(r'href="([^"]*sessions\?[^"]*)">All 7 comments for', page).group(1)
    listed = admin_client.get(link).get_data(as_text=True)
    assert "7 sessions" in listed
