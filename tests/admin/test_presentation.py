"""What product managers see: figures, endings and questions the admin asks."""

from __future__ import annotations

from tests.factories import make_token
from widget_server.extensions import db
from widget_server.services import flow
from widget_server.services.tokens import verify_customer_token


def complete(site, sub, reason, outcome, offer=None, mrr=9900):
    claims = verify_customer_token(site, make_token(site, sub, mrr=mrr))
    session, _ = flow.start_session(site, claims, locale="en")
    flow.answer_session(site, session, reason_key=reason)
    flow.complete_session(site, session, outcome=outcome, offer_key=offer)
    return session


def test_dashboard_counts_keep_my_subscription_as_a_save_without_offer(admin_client, site):
    complete(site, "stayer", "switching", "saved", mrr=4900)
    complete(site, "leaver", "switching", "cancelled")
    db.session.commit()
    html = admin_client.get(f"/admin/sites/{site.key}/").get_data(as_text=True)
    assert "Kept without an offer" in html
    row = html[html.index("Kept without an offer") :].split("</tr>")[0]
    assert '<td class="num">1</td>' in row and "49" in row
