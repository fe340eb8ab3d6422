import re

import sqlalchemy as sa

from tests.clients import token_of
from tests.factories import complete_session, make_customer, make_site, make_token
from widget_server.extensions import db
from widget_server.models import OutboxMessage, RoadmapItem, Vote
from widget_server.services import roadmap
from widget_server.services.customers import upsert_customer
from widget_server.services.tokens import verify_customer_token


def setup_items(site):
    big = roadmap.create_item(site, title="SSO <b>now</b>", status="planned")
    small = roadmap.create_item(site, title="Themes", status="planned")
    for i in range(3):
        roadmap.vote(site, small, make_customer(site, f"s{i}", mrr=100, company="same"))
    roadmap.vote(site, big, make_customer(site, "whale", mrr=99900))
    complete_session(
        site, "gone", "missing_features", mrr=50000, email="gone@ex.com", roadmap_item=big
    )
    db.session.commit()
    return big, small


def titles(html):
    return re.findall(r'/roadmap/\d+">([^<]+)</a>', html)


def test_items_sort_by_each_measure(admin_client, site):
    setup_items(site)
    base = f"/admin/sites/{site.key}/roadmap"
    # By default the items customers left for come first (lost MRR), then by votes on request.
    default = admin_client.get(base).get_data(as_text=True)
    assert titles(default) == ["SSO &lt;b&gt;now&lt;/b&gt;", "Themes"]
    assert 'aria-sort="descending"><a href="/admin/sites/' in default
    assert titles(admin_client.get(f"{base}?sort=votes").get_data(as_text=True)) == [
        "Themes",
        "SSO &lt;b&gt;now&lt;/b&gt;",
    ]
    for sort in ("voters_mrr", "lost_mrr"):
        html = admin_client.get(f"{base}?sort={sort}", headers={"HX-Request": "true"}).get_data(
            as_text=True
        )
        assert titles(html)[0] == "SSO &lt;b&gt;now&lt;/b&gt;" and "<html" not in html
    html = admin_client.get(f"{base}?sort=companies").get_data(as_text=True)
    assert "$500" in html  # lost MRR of the churned customer


def test_inline_status_change_asks_before_emailing(admin_client, site):
    big, _ = setup_items(site)
    token = token_of(admin_client, site)
    url = f"/admin/sites/{site.key}/roadmap/{big.id}/status"
    htmx = {"HX-Request": "true", "X-CSRFToken": token}
    ask = admin_client.post(url, data={"status": "shipped"}, headers=htmx)
    assert ask.status_code == 200
    html = ask.get_data(as_text=True)
    assert html.startswith(f'<tr id="item-{big.id}">')
    assert "emails 1 voter and 1 churned customer." in html and "Confirm and email 2" in html
    db.session.expire_all()
    assert big.status == "planned"  # nothing changed, nothing queued yet
    assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 0
    # "Cancel" shows the row as it is.
    cancel = admin_client.get(url, headers=htmx).get_data(as_text=True)
    assert cancel.startswith(f'<tr id="item-{big.id}">') and "Confirm" not in cancel
    assert 'value="planned" selected' in cancel
    response = admin_client.post(url, data={"status": "shipped", "confirm": "1"}, headers=htmx)
    html = response.get_data(as_text=True)
    assert html.startswith(f'<tr id="item-{big.id}">') and "2 emails queued" in html
    recipients = set(db.session.scalars(sa.select(OutboxMessage.recipient)))
    assert recipients == {"whale@example.com", "gone@ex.com"}
    # Everyone has had these emails: moving back and shipping again emails nobody, so no question.
    assert "no emails" in admin_client.post(url, data={"status": "planned"}, headers=htmx).text
    again = admin_client.post(url, data={"status": "shipped"}, headers=htmx).get_data(as_text=True)
    assert "Confirm" not in again and "no emails" in again
    bad = admin_client.post(url, data={"status": "nope"}, headers={"X-CSRFToken": token})
    assert bad.status_code == 422


def test_status_change_without_emails_needs_no_confirmation(admin_client, site):
    _, small = setup_items(site)
    response = admin_client.post(
        f"/admin/sites/{site.key}/roadmap/{small.id}/status",
        data={"status": "declined"},
        headers={"HX-Request": "true", "X-CSRFToken": token_of(admin_client, site)},
    )
    assert "Saved, no emails" in response.get_data(as_text=True)
    db.session.expire_all()
    assert small.status == "declined"


def test_item_page_asks_before_emailing(admin_client, site):
    _, small = setup_items(site)
    token = token_of(admin_client, site)
    url = f"/admin/sites/{site.key}/roadmap/{small.id}"
    form = {"csrf_token": token, "title": "Dark themes", "status": "in_progress", "public": "1"}
    ask = admin_client.post(url, data=form)
    html = ask.get_data(as_text=True)
    assert ask.status_code == 200 and "emails 3 voters." in html
    assert 'name="confirm" value="1"' in html and 'name="title" value="Dark themes"' in html
    db.session.expire_all()
    assert (small.title, small.status) == ("Themes", "planned")  # nothing saved yet
    assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 0
    done = admin_client.post(url, data={**form, "confirm": "1"}, follow_redirects=True)
    assert "Item saved; 3 emails queued." in done.get_data(as_text=True)
    db.session.expire_all()
    assert (small.title, small.status) == ("Dark themes", "in_progress")
    # The plain (no-script) inline form ends on the same question.
    big_url = f"/admin/sites/{site.key}/roadmap/{small.id}/status"
    plain = admin_client.post(big_url, data={"csrf_token": token, "status": "shipped"})
    assert "emails 3 voters." in plain.get_data(as_text=True)


def test_item_page_lists_voters_and_churned(admin_client, site):
    big, _ = setup_items(site)
    html = admin_client.get(f"/admin/sites/{site.key}/roadmap/{big.id}").get_data(as_text=True)
    assert "whale@example.com" in html and "$999" in html
    assert "gone@ex.com" in html and "$500" in html


def test_vote_on_behalf_and_merge(admin_client, site):
    big, small = setup_items(site)
    token = token_of(admin_client, site)
    base = f"/admin/sites/{site.key}/roadmap"
    admin_client.post(
        f"{base}/{small.id}/vote",
        data={"csrf_token": token, "customer": "whale@example.com", "source": "sales"},
    )
    sources = dict(
        db.session.execute(
            sa.select(Vote.customer_id, Vote.source).where(Vote.item_id == small.id)
        ).all()
    )
    assert "sales" in sources.values()
    unknown = admin_client.post(
        f"{base}/{small.id}/vote",
        data={"csrf_token": token, "customer": "nobody"},
        follow_redirects=True,
    )
    assert "No customer with id or email" in unknown.get_data(as_text=True)
    admin_client.post(f"{base}/{small.id}/merge", data={"csrf_token": token, "into": str(big.id)})
    db.session.refresh(small)
    assert small.merged_into_id == big.id and small.status == "duplicate"
    [row] = roadmap.items_with_stats(site, roadmap.ItemFilter(ids=(big.id,)))
    assert row["votes"] == 4  # whale voted on both: counted once


def test_moderation_queue(admin_client, site):
    author = make_customer(site, "author", mrr=1000)
    idea = roadmap.suggest(site, author, title="Zapier <i>integration</i>")
    db.session.commit()
    html = admin_client.get(f"/admin/sites/{site.key}/roadmap").get_data(as_text=True)
    assert "Zapier &lt;i&gt;integration&lt;/i&gt;" in html and "author@example.com" in html
    token = token_of(admin_client, site)
    admin_client.post(
        f"/admin/sites/{site.key}/roadmap/{idea.id}/approve", data={"csrf_token": token}
    )
    db.session.refresh(idea)
    assert idea.moderation == "approved"


def test_outbox_page_and_resend(admin_client, site):
    site.webhook_url, site.webhook_secret = "https://hooks.example.com/x", "whsec"
    item = roadmap.create_item(site, title="API")
    roadmap.vote(site, item, make_customer(site, "v", mrr=1000))
    db.session.commit()
    message = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "webhook"))
    message.state = "sent"
    db.session.commit()
    html = admin_client.get(f"/admin/sites/{site.key}/outbox").get_data(as_text=True)
    assert "vote.created" in html and "sent" in html
    token = token_of(admin_client, site)
    admin_client.post(
        f"/admin/sites/{site.key}/outbox/{message.id}/resend", data={"csrf_token": token}
    )
    db.session.refresh(message)
    assert message.state == "pending"


def test_webhook_settings(admin_client, site):
    token = token_of(admin_client, site)
    admin_client.post(
        f"/admin/sites/{site.key}/webhook", data={"csrf_token": token, "webhook_url": "ftp://x"}
    )
    db.session.refresh(site)
    assert site.webhook_url is None
    admin_client.post(
        f"/admin/sites/{site.key}/webhook",
        data={"csrf_token": token, "webhook_url": "https://a.example.com/h"},
    )
    db.session.refresh(site)
    assert site.webhook_url == "https://a.example.com/h" and site.webhook_secret.startswith(
        "whsec_"
    )


def test_other_sites_items_are_not_reachable(admin_client, site):
    other, _ = make_site("Other")
    theirs = roadmap.create_item(other, title="Theirs")
    db.session.commit()
    assert admin_client.get(f"/admin/sites/{site.key}/roadmap/{theirs.id}").status_code == 404
    assert db.session.get(RoadmapItem, theirs.id).title == "Theirs"


def test_status_labels_and_anonymous_voting(admin_client, site):
    token = token_of(admin_client, site)
    data = {"csrf_token": token, "label_shipped_en": "Done!", "anonymous_voting": "1"}
    admin_client.post(f"/admin/sites/{site.key}/roadmap-options", data=data)
    db.session.refresh(site)
    assert site.status_labels == {"shipped": {"en": "Done!"}} and site.anonymous_voting
    assert roadmap.status_label(site, "shipped", "en") == "Done!"
    assert roadmap.status_label(site, "shipped", "de") == "Veröffentlicht"  # not customised
    assert roadmap.status_label(site, "planned", "de") == "Geplant"
    too_long = data | {"label_planned_en": "x" * 41}
    admin_client.post(f"/admin/sites/{site.key}/roadmap-options", data=too_long)
    db.session.refresh(site)
    assert "planned" not in site.status_labels


def test_item_page_lists_voters_a_page_at_a_time(admin_client, db, site):
    item = roadmap.create_item(site, title="Paged")
    for i in range(55):
        claims = verify_customer_token(site, make_token(site, f"p{i:02d}", email=f"p{i:02d}@x.io"))
        roadmap.vote(site, item, upsert_customer(site, claims))
    db.session.commit()
    base = f"/admin/sites/{site.key}/roadmap/{item.id}"
    first = admin_client.get(base).get_data(as_text=True)
    assert "Voters (55)" in first and first.count("@x.io</td>") == 50
    assert "Page 1 of 2" in first and "voters_page=2" in first
    second = admin_client.get(base, query_string={"voters_page": 2}).get_data(as_text=True)
    assert second.count("@x.io</td>") == 5 and "Page 2 of 2" in second
