"""The Experiments page: controls for editors and owners, figures that agree with the data
API and the PDF report."""

import re

import pytest
import sqlalchemy as sa

from tests.clients import csrf_token
from tests.factories import find_offer, find_reason, make_admin, pdf_text, start_flow
from widget_server.models import AuditEvent, Experiment
from widget_server.reports import pdf
from widget_server.reports.formatting import money, percent, points
from widget_server.services import experiments, flow
from widget_server.services.period import Filter, Period

PAGE = "/admin/sites/{}/experiments"


def post(client, site, path, **data):
    data["csrf_token"] = csrf_token(client, PAGE.format(site.key))
    return client.post(PAGE.format(site.key) + path, data=data)


def test_editor_sets_the_holdout_and_it_is_audited(admin_client, db, site):
    response = post(admin_client, site, "/holdout", percent="15", planned_size="500")
    assert response.status_code == 302
    holdout = experiments.current_holdout(site)
    assert holdout.holdout_percent == 15 and holdout.planned_size == 500
    page = admin_client.get(PAGE.format(site.key)).get_data(as_text=True)
    assert "15 % of customers are offered nothing" in page
    bad = post(admin_client, site, "/holdout", percent="75")
    assert bad.status_code == 302
    page = admin_client.get(PAGE.format(site.key)).get_data(as_text=True)
    assert "from 0 to 50" in page and experiments.current_holdout(site).holdout_percent == 15
    post(admin_client, site, "/holdout", percent="0")
    assert experiments.current_holdout(site) is None
    actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions.count("holdout_changed") == 2


def test_viewer_sees_results_but_no_controls(client, db, site):
    from tests.clients import login

    make_admin("viewer@example.com", "correct horse battery", owner=False, sites=[site],
               role="viewer")  # fmt: skip
    db.session.commit()
    login(client, "viewer@example.com")
    page = client.get(PAGE.format(site.key)).get_data(as_text=True)
    assert "Experiments" in page and 'name="percent"' not in page
    refused = client.post(
        PAGE.format(site.key) + "/holdout",
        data={"percent": "10", "csrf_token": csrf_token(client, "/admin/account")},
    )
    assert refused.status_code == 403 and experiments.current_holdout(site) is None


def test_ab_test_started_paused_and_ended_from_the_admin(admin_client, db, site):
    discount, pause = find_offer(site, "discount_30"), find_offer(site, "pause")
    response = post(
        admin_client, site, "/ab", reason_id=str(find_reason(site, "too_expensive").id),
        offer_0=str(discount.id), weight_0="1", offer_1=str(pause.id), weight_1="2",
        offer_2="", planned_size="",
    )  # fmt: skip
    assert response.status_code == 302
    test = db.session.scalar(sa.select(Experiment).where(Experiment.kind == "ab"))
    assert [(v.offer.key, v.weight) for v in test.variants] == [("discount_30", 1), ("pause", 2)]
    post(admin_client, site, f"/{test.id}/pause")
    assert test.status == "paused"
    post(admin_client, site, f"/{test.id}/resume")
    post(admin_client, site, f"/{test.id}/end", keep=str(pause.id))
    assert test.status == "ended" and test.winner_offer_id == pause.id
    page = admin_client.get(PAGE.format(site.key)).get_data(as_text=True)
    assert "kept <code>pause</code>" in page and "ended by pm@example.com" in page


@pytest.fixture
def figures(db, site):
    """A holdout that reached its planned size, and an A/B test that has not."""
    experiments.set_holdout(site, 50, by="x", planned_size=30)
    n = 0
    while min(a["sessions"] for a in experiments.results(site)["items"][0]["arms"]) < 30:
        n += 1
        session, shown = start_flow(site, f"c{n}", reason="shutting_down", mrr=12345)
        if session.holdout_arm == "holdout" or n % 3 == 0:
            flow.complete_session(site, session, outcome="cancelled")
        else:
            flow.complete_session(site, session, outcome="saved", offer_key=shown.key)
    discount, pause = find_offer(site, "discount_30"), find_offer(site, "pause")
    experiments.create_ab_test(
        site, find_reason(site, "too_expensive").id, [(discount.id, 1), (pause.id, 1)], by="x"
    )
    for m in range(6):
        session, shown = start_flow(site, f"ab{m}", mrr=5000)
        if shown is not None:
            flow.complete_session(site, session, outcome="saved", offer_key=shown.key)
        else:
            flow.complete_session(site, session, outcome="cancelled")
    db.session.commit()


def cells(html: str, experiment_id: int) -> dict:
    """{(arm, field): text} of one experiment's table, and its verdict."""
    table = html.split(f'data-experiment="{experiment_id}"', 1)[1].split("</table>", 1)[0]
    found = {}
    for arm, row in re.findall(r'data-arm="([^"]+)">(.*?)</tr>', table, re.S):
        for field, text in re.findall(r'data-field="([^"]+)">(.*?)</td>', row, re.S):
            found[(arm, field)] = " ".join(text.split())
    rest = html.split(f'data-experiment="{experiment_id}"', 1)[1]
    found["verdict"] = " ".join(rest.split('data-field="verdict">', 1)[1].split("</p>")[0].split())
    return found


def test_admin_api_and_pdf_show_the_same_figures(app, admin_client, client, api_key, db, site,
                                                 figures):  # fmt: skip
    data = client.get(
        "/api/v1/insights/experiments", headers={"Authorization": f"Bearer {api_key}"}
    ).get_json()
    admin_html = admin_client.get(PAGE.format(site.key)).get_data(as_text=True)
    with app.test_request_context():
        pdf_html = pdf.render_html(site, Filter(Period.last_days(30)))
    assert [i["kind"] for i in data["items"]] == ["ab", "holdout"]
    for item in data["items"]:
        expected = {}
        for arm in item["arms"]:
            lift = arm["lift"]
            expected.update({
                (arm["key"], "sessions"): str(arm["sessions"]),
                (arm["key"], "saved"): str(arm["saved"]),
                (arm["key"], "save_rate"): percent(arm["save_rate"]),
                (arm["key"], "lift"): f"{points(lift['estimate'])} ({points(lift['ci_low'])} "
                f"to {points(lift['ci_high'])})" if lift else "—",
                (arm["key"], "mrr_kept"): money(arm["mrr_kept"], "USD"),
                (arm["key"], "discount_cost"): money(arm["discount_cost"], "USD"),
            })  # fmt: skip
        for html in (admin_html, pdf_html):
            shown = cells(html, item["id"])
            assert {k: shown[k] for k in expected} == expected
            if item["conclusive"]:
                assert shown["verdict"].startswith(f"Lift {points(item['lift']['estimate'])}")
            else:
                assert shown["verdict"].startswith("Not enough data yet")
    holdout = data["items"][1]
    assert holdout["conclusive"] and holdout["lift"]["estimate"] > 0
    assert data["items"][0]["lift"] is None and not data["items"][0]["conclusive"]
    # The real PDF carries the section too.
    with app.test_request_context():
        text = pdf_text(pdf.render_pdf(site, Filter(Period.last_days(30))))
    assert "Experiments: do the offers work?" in text
    assert percent(holdout["arms"][0]["save_rate"]) in text
