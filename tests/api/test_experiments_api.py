"""GET /api/v1/insights/experiments: the contract, through the widget's real requests."""

import pytest

from tests.factories import make_site, make_token, widget
from widget_server.services import experiments


def flow_through_widget(client, site, sub, outcome, reason="too_expensive"):
    """A customer's whole flow through the widget API; returns the offer they were shown."""
    token = make_token(site, sub)
    sid = widget(client, site, "/sessions", {"token": token}).get_json()["session"]
    offer = widget(
        client, site, f"/sessions/{sid}/answer", {"token": token, "reason": reason}
    ).get_json()["offer"]
    body = {"token": token, "outcome": outcome}
    if outcome == "saved":  # a holdout customer has no offer: "Keep my subscription"
        body["offer"] = offer["id"] if offer else None
    assert widget(client, site, f"/sessions/{sid}/complete", body).status_code == 200
    return offer


def test_contract_shape_and_the_widget_shows_holdout_customers_no_offer(client, db, site,
                                                                        api_key):  # fmt: skip
    experiments.set_holdout(site, 40, by="x", planned_size=30)
    db.session.commit()
    shown = {}
    for n in range(30):
        shown[n] = flow_through_widget(client, site, f"w{n}", "saved")
    # The same customers again get the same answer (sticky, through the process's snapshot).
    for n in range(10):
        # (another reason: a customer who took the discount is not offered a second one)
        again = flow_through_widget(client, site, f"w{n}", "cancelled", "shutting_down")
        assert (again is None) == (shown[n] is None)
    response = client.get(
        "/api/v1/insights/experiments", headers={"Authorization": f"Bearer {api_key}"}
    )
    assert response.status_code == 200
    data = response.get_json()
    assert data["currency"] == "USD"
    (item,) = data["items"]
    assert {"id", "kind", "status", "arms", "lift", "conclusive"} <= set(item)
    assert item["kind"] == "holdout" and item["status"] == "running"
    offers_arm, holdout_arm = item["arms"]
    for arm in item["arms"]:
        assert {"key", "sessions", "saved", "save_rate", "retained_30"} <= set(arm)
        assert 0 <= arm["save_rate"] <= 1
    assert offers_arm["key"] == "offers" and holdout_arm["key"] == "holdout"
    held = sum(offer is None for offer in shown.values())
    assert holdout_arm["sessions"] == held + sum(shown[n] is None for n in range(10))
    assert offers_arm["sessions"] + holdout_arm["sessions"] == 40
    assert offers_arm["saved"] == 30 - held and holdout_arm["saved"] == held
    assert item["lift"] is None and item["conclusive"] is False  # below the planned size
    # Every session records its arm.
    listed = client.get(
        "/api/v1/sessions?limit=100", headers={"Authorization": f"Bearer {api_key}"}
    ).get_json()["items"]
    assert len(listed) == 40 and {s["holdout_id"] for s in listed} == {item["id"]}
    assert sum(s["holdout_arm"] == "holdout" for s in listed) == holdout_arm["sessions"]


def test_experiments_need_the_sites_api_key(client, db, site):
    _other, other_key = make_site("Other")
    experiments.set_holdout(site, 10, by="x")
    db.session.commit()
    assert client.get("/api/v1/insights/experiments").get_json()["error"]["code"] == (
        "missing_api_key"
    )
    data = client.get(
        "/api/v1/insights/experiments", headers={"Authorization": f"Bearer {other_key}"}
    ).get_json()
    assert data["items"] == []  # another site's experiments are not shown


@pytest.mark.parametrize("percent", ["51", "-5", "x", "10.5"])
def test_cli_refuses_a_bad_percent_in_one_line(runner, db, site, percent):
    result = runner.invoke(
        args=["experiments", "holdout", "--site", site.key, "--percent", percent]
    )
    assert result.exit_code != 0
    assert "Error: The holdout must be a whole number of percent from 0 to 50" in result.output
    assert "Traceback" not in result.output and experiments.current_holdout(site) is None


def test_cli_sets_and_ends_the_holdout(runner, db, site):
    result = runner.invoke(args=["experiments", "holdout", "--site", site.key, "--percent", "20"])
    assert result.exit_code == 0, result.output
    assert "20 % of customers are offered nothing" in result.output
    assert experiments.current_holdout(site).holdout_percent == 20
    unknown = runner.invoke(args=["experiments", "holdout", "--site", "nope", "--percent", "5"])
    assert unknown.exit_code != 0 and len(unknown.output.strip().splitlines()) == 1
    ended = runner.invoke(args=["experiments", "holdout", "--site", site.key, "--percent", "0"])
    assert ended.exit_code == 0 and "every customer sees the offers" in ended.output
    assert experiments.current_holdout(site) is None


def test_the_figures_take_the_same_queries_for_one_experiment_or_many(client, db, site,
                                                                      api_key):  # fmt: skip
    import re

    import sqlalchemy as sa

    from tests.factories import ab_test

    def selects():
        statements = []
        bind = db.engines[None]

        def record(conn, cursor, statement, *args):
            # (the API key's own checks are not the experiments')
            if statement.lstrip().upper().startswith("SELECT") and not re.search(
                r"FROM (api_keys|sites)\b", statement
            ):
                statements.append(statement)

        sa.event.listen(bind, "before_cursor_execute", record)
        try:
            response = client.get(
                "/api/v1/insights/experiments", headers={"Authorization": f"Bearer {api_key}"}
            )
        finally:
            sa.event.remove(bind, "before_cursor_execute", record)
        assert response.status_code == 200
        return len(statements), len(response.get_json()["items"])

    def more(percent):
        experiments.set_holdout(site, percent, by="x")
        test = ab_test(site)
        experiments.end(test, by="x", keep_offer_id=test.variants[1].offer_id)
        db.session.commit()

    more(10)
    few, shown = selects()
    for percent in (20, 30, 40):
        more(percent)
    many, shown_many = selects()
    assert (shown, shown_many) == (2, 8)
    assert many == few
