"""What product managers see: figures, endings and questions the admin asks."""

from __future__ import annotations

from tests.factories import complete_session, make_site
from widget_server.extensions import db
from widget_server.reports import formatting
from widget_server.services import flow_config, roadmap


def test_dashboard_counts_keep_my_subscription_as_a_save_without_offer(admin_client, site):
    complete_session(site, "stayer", "switching", "saved", offer=None, mrr=4900)
    complete_session(site, "leaver", "switching", "cancelled")
    db.session.commit()
    html = admin_client.get(f"/admin/sites/{site.key}/").get_data(as_text=True)
    assert "Kept without an offer" in html
    row = html[html.index("Kept without an offer") :].split("</tr>")[0]
    assert '<td class="num">1</td>' in row and "49" in row


def test_figures_are_formatted_for_the_reader(admin_client, site):
    complete_session(site, "big", "missing_features", "cancelled", mrr=4382000)
    complete_session(site, "small", "too_expensive", "cancelled", mrr=4350)
    db.session.commit()
    url = f"/admin/sites/{site.key}/?range=30d"
    english = admin_client.get(url, headers={"Accept-Language": "en-US,en;q=0.8"}).text
    assert "$43,863.50" not in english and "$43,864" in english  # whole units for big figures
    assert "$43,820" in english and "$43.50" in english and "USD" not in english.split("<h2")[2]
    german = admin_client.get(url, headers={"Accept-Language": "de-DE,de;q=0.9"}).text
    assert "43.820\xa0$" in german and "43,50\xa0$" in german and "99,9\xa0%" in german


def test_changes_say_their_direction_in_words_and_colour(admin_client, site):
    complete_session(site, "before", "too_expensive", "cancelled", mrr=10000, days_ago=40)
    complete_session(site, "now-1", "too_expensive", "cancelled", mrr=10000)
    complete_session(site, "now-2", "too_expensive", "cancelled", mrr=10000)
    db.session.commit()
    html = admin_client.get(f"/admin/sites/{site.key}/?range=30d").text
    lost = html[html.index('data-testid="total-lost"') :].split("</a>")[0]
    # Lost MRR doubled: "up", in the colour of bad news.
    assert '<span class="change bad"><span aria-hidden="true">▲ </span>up 100.0%</span>' in lost


def test_months_are_unambiguous_and_partial_months_marked(admin_client, site):
    complete_session(site, "one", "too_expensive", "cancelled")
    db.session.commit()
    html = admin_client.get(f"/admin/sites/{site.key}/?from=2026-09-15&to=2026-11-30").text
    assert ">Sep 2026*<" in html and ">Oct 2026<" in html and ">Nov 2026<" in html
    assert "Partial month" in html and "26/10" not in html


def test_an_empty_period_says_no_data(admin_client, site):
    html = admin_client.get(f"/admin/sites/{site.key}/?from=2020-01-01&to=2020-01-31").text
    cards = html[html.index('class="cards"') : html.index("Reasons ranked")]
    assert cards.count("no data") >= 3 and "0.0%" not in cards and "$0" not in cards
    assert "No cancellations in this period" in html


def test_missing_features_names_the_roadmap_items(admin_client, site):
    item = roadmap.create_item(site, title="Okta SSO", status="planned")
    complete_session(site, "left", "missing_features", mrr=50000, roadmap_item=item)
    db.session.commit()
    html = admin_client.get(f"/admin/sites/{site.key}/").text
    row = html[html.index("Missing features I need") :].split("</tr>")[0]
    assert f'href="/admin/sites/{site.key}/roadmap/{item.id}">Okta SSO</a>' in row
    assert "$500 lost" in row and f"/admin/sites/{site.key}/roadmap?sort=lost_mrr" in row


def test_money_digits_come_from_the_currency(admin_client, db):

    yen, _ = make_site("Yen", currency="JPY")
    dinar, _ = make_site("Dinar", currency="KWD")
    assert formatting.money(4900, "JPY", "en") == "¥4,900"
    assert formatting.money(4900, "KWD", "en") == "KWD4.900"
    assert formatting.money(4950, "USD", "en") == "$49.50"
    # Offer limits typed in the currency's own units.
    assert flow_config._money("4900", "min", "JPY") == 4900
    assert flow_config._money("4.9", "min", "KWD") == 4900
    # MRR bands in major units: 4,000 yen a month is in the top band, not "under 50".
    complete_session(yen, "yen-1", "too_expensive", "cancelled", mrr=4000)
    complete_session(dinar, "kwd-1", "too_expensive", "cancelled", mrr=40000)  # 40 KWD
    db.session.commit()
    yen_html = admin_client.get(f"/admin/sites/{yen.key}/?by=mrr").text
    assert "1,000 and more" in yen_html and "¥4,000" in yen_html
    dinar_html = admin_client.get(f"/admin/sites/{dinar.key}/?by=mrr").text
    assert ">under 50<" in dinar_html


def test_formatting_helpers():
    assert formatting.number(1234567, "en") == "1,234,567"
    assert formatting.number(1234567, "de") == "1.234.567"
    assert formatting.month_label("2026-10", "en") == "Oct 2026"
    assert "down 3.0%" in formatting.change(-0.03, "down", "en") and "good" in formatting.change(
        -0.03, "down", "en"
    )
    assert "no earlier data" in formatting.change(None)


def test_history_restore_gets_the_whole_page(admin_client, site):
    url = f"/admin/sites/{site.key}/roadmap?sort=votes"
    fragment = admin_client.get(url, headers={"HX-Request": "true"}).text
    assert "<html" not in fragment
    restore = admin_client.get(
        url, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.text and "HX-History-Restore-Request" in restore.headers["Vary"]


def test_public_roadmap_varies_by_language_and_says_how_to_vote(client, site):
    english = client.get(f"/roadmap/{site.key}", headers={"Accept-Language": "en"})
    assert "Accept-Language" in english.headers["Vary"]
    assert "public" in english.headers["Cache-Control"]
    assert "To vote" in english.text
    german = client.get(f"/roadmap/{site.key}", headers={"Accept-Language": "de"})
    assert "Um abzustimmen" in german.text


def test_sessions_show_offer_names_the_item_chosen_and_a_total(admin_client, site):
    item = roadmap.create_item(site, title="Okta SSO", status="planned")
    complete_session(site, "named", "missing_features", mrr=50000, roadmap_item=item)
    complete_session(site, "shown", "too_expensive")  # the discount was shown, declined
    db.session.commit()
    html = admin_client.get(f"/admin/sites/{site.key}/sessions").text
    assert "2 sessions" in html
    assert f'href="/admin/sites/{site.key}/roadmap/{item.id}">Okta SSO</a>' in html
    assert "30% off for the next 3 months" in html and "discount_30" not in html
    one = admin_client.get(f"/admin/sites/{site.key}/sessions?reason=too_expensive").text
    assert "1 session<" in one


def test_each_session_has_a_page_of_its_own(admin_client, site, db):
    item = roadmap.create_item(site, title="Okta SSO", status="planned")
    session = complete_session(
        site, "detail", "missing_features", "saved", offer=None, mrr=50000, name="Ann <b>",
        roadmap_item=item, comment="Ohne SSO <geht> es nicht", locale="de",
    )  # fmt: skip
    db.session.commit()
    listing = admin_client.get(f"/admin/sites/{site.key}/sessions").text
    url = f"/admin/sites/{site.key}/sessions/{session.public_id}"
    assert f'href="{url}"' in listing
    html = admin_client.get(url).text
    assert "Ann &lt;b&gt;" in html and "$500" in html and "Ohne SSO &lt;geht&gt; es nicht" in html
    assert f'href="/admin/sites/{site.key}/roadmap/{item.id}">Okta SSO</a>' in html
    assert "saved without an offer" in html
    assert admin_client.get(f"/admin/sites/{site.key}/sessions/nope").status_code == 404
    other, _ = make_site("Other")
    assert (
        admin_client.get(f"/admin/sites/{other.key}/sessions/{session.public_id}").status_code
        == 404
    )
