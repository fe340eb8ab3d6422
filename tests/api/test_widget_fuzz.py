"""Arbitrary bodies with a valid token never produce a 5xx or a half-written answer."""

import json

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import ORIGIN, make_token
from widget_server.models import CancellationSession

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=5)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "reason": values | st.sampled_from(["too_expensive", "other", "switching"]),
        "comment": values,
        "followup_answer": values,
        "outcome": values | st.sampled_from(["cancelled", "saved", "dismissed"]),
        "offer": values | st.just("discount_30"),
        "extra": values,
    },
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies, step=st.sampled_from(["answer", "complete"]))
def test_any_body_gets_a_clean_answer(client, db, site, body, step):
    token = make_token(site, "fuzz")
    started = client.post(
        f"/api/v1/widget/{site.key}/sessions",
        data=json.dumps({"token": token}),
        headers={"Origin": ORIGIN},
    ).get_json()
    response = client.post(
        f"/api/v1/widget/{site.key}/sessions/{started['session']}/{step}",
        data=json.dumps({"token": token, **body}),
        headers={"Origin": ORIGIN},
    )
    assert response.status_code < 500
    if response.status_code >= 400:
        error = response.get_json()["error"]
        assert error["code"] and error["message"]
        session = db.session.scalar(
            sa.select(CancellationSession).where(
                CancellationSession.public_id == started["session"]
            )
        )
        assert session.reason_id is None and session.outcome is None
