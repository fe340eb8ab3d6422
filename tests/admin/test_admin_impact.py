"""The admin's Impact page, the Stripe connector's settings and the roadmap's comebacks."""

from __future__ import annotations

import html
import re

import sqlalchemy as sa

from tests.clients import login, token_of
from tests.factories import (
    CANCELLED,
    REACTIVATED,
    complete_session,
    make_admin,
    post_events,
    winback_email,
)
from widget_server.extensions import db
from widget_server.models import AuditEvent
from widget_server.services import roadmap

SECRET = "whsec_adminform0123456789"
KEY = "rk_live_adminform0123456789"


def text_of(response) -> str:
    """The page's text as a reader sees it: no tags, single spaces."""
    page = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(page))


def test_the_impact_page_tells_what_happened_after_the_flow(admin_client, client, site, api_key):
    item = roadmap.create_item(site, title="Single sign-on", status="in_progress")
    complete_session(site, "A", outcome="saved", mrr=1000, days_ago=100)
    complete_session(site, "B", outcome="saved", mrr=2000, days_ago=100)
    complete_session(site, "G", mrr=700, days_ago=80)
    customer = complete_session(
        site, "R", "missing_features", mrr=5000, days_ago=150, roadmap_item=item
    ).customer_id
    roadmap.change_status(site, item, "shipped")
    winback_email(site, customer, item, 20)
    db.session.commit()
    post_events(client, api_key, ("B", CANCELLED, 50, None), ("R", REACTIVATED, 5, 5000))
    page = admin_client.get(f"/admin/sites/{site.key}/impact?range=180d")
    assert page.status_code == 200
    text = text_of(page)
    assert "Still paying after 90 days 50.0%" in text  # A kept paying, B left on day 50
    assert "1 of 2 saves old enough" in text
    assert "Said cancelled, still paying 2" in text  # G and R: billing never confirmed
    assert "R Growth $50" in text and "G Growth $7" in text  # who, by MRR
    assert "Single sign-on 1 $50" in text
    # The roadmap list shows the comeback next to the lost MRR.
    roadmap_page = text_of(admin_client.get(f"/admin/sites/{site.key}/roadmap"))
    assert "we built it: 1 came back, $50/month" in roadmap_page


def test_the_impact_page_without_events_is_calm(admin_client, site):
    text = text_of(admin_client.get(f"/admin/sites/{site.key}/impact"))
    assert "No reactivations in this period." in text
    bad = text_of(admin_client.get(f"/admin/sites/{site.key}/impact?from=2026-13-01"))
    assert "Dates must look like 2026-01-31." in bad


def test_owners_connect_stripe_and_see_only_masked_secrets(admin_client, site):
    token = token_of(admin_client, site)
    response = admin_client.post(
        f"/admin/sites/{site.key}/stripe",
        data={
            "csrf_token": token,
            "stripe_webhook_secret": SECRET,
            "stripe_api_key": KEY,
            "apply_cancellations": "1",
        },
        follow_redirects=True,
    )
    assert "Stripe connector saved." in text_of(response)
    db.session.refresh(site)
    assert (site.stripe_webhook_secret, site.stripe_api_key) == (SECRET, KEY)
    assert site.stripe_apply_cancellations is True
    settings = admin_client.get(f"/admin/sites/{site.key}/settings").get_data(as_text=True)
    assert SECRET not in settings and KEY not in settings
    assert "whsec_…6789" in html.unescape(settings)
    assert f"/integrations/stripe/{site.key}" in settings
    audit = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "stripe_connector_changed")
    ).one()
    assert SECRET not in str(audit.details)
    # Blank fields keep what is saved; a bad secret is refused with a message.
    admin_client.post(
        f"/admin/sites/{site.key}/stripe",
        data={"csrf_token": token, "stripe_webhook_secret": "", "apply_cancellations": "1"},
    )
    db.session.refresh(site)
    assert site.stripe_webhook_secret == SECRET
    refused = admin_client.post(
        f"/admin/sites/{site.key}/stripe",
        data={"csrf_token": token, "stripe_webhook_secret": "nope"},
        follow_redirects=True,
    )
    assert "starts with whsec_" in text_of(refused)


def test_editors_cannot_see_or_change_the_connector(client, site):
    make_admin("ed@example.com", owner=False, sites=[site], role="editor")
    site.stripe_webhook_secret = SECRET
    db.session.commit()
    login(client, "ed@example.com")
    settings = client.get(f"/admin/sites/{site.key}/settings").get_data(as_text=True)
    assert "Stripe is connected." in settings and "6789" not in settings
    token = token_of(client, site)
    response = client.post(
        f"/admin/sites/{site.key}/stripe",
        data={"csrf_token": token, "stripe_webhook_secret": "whsec_evil000000000000"},
    )
    assert response.status_code == 403
    db.session.refresh(site)
    assert site.stripe_webhook_secret == SECRET
