"""Schemathesis over the whole OpenAPI document: every operation, on the database under test.

A ``before_call`` hook puts what the fuzzer cannot guess into each case it sends: the real
site key, a valid customer token in widget bodies, the data API key, real reason and offer
keys now and then, and ids of real sessions and roadmap items (a public one, a shipped one, a
hidden one, a pending suggestion). No answer may be a 5xx, every answer must match its
documented status codes, content type and schema (error codes included), and a request the
document calls invalid must be refused.

The schema is the document the app serves, built without an app so that it can be loaded at
import: one pytest test per operation (a test checks that it is the one served).
"""

import itertools
import zlib

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER

from tests.factories import make_token
from widget_server.api.docs import build_spec
from widget_server.models import MAX_ID
from widget_server.services import flow, roadmap
from widget_server.services.customers import upsert_customer
from widget_server.services.tokens import verify_customer_token

# Generated examples per operation, on top of the coverage phase's (~50 per operation): about
# 4,000 requests, about 40 s on SQLite and 80 s on PostgreSQL on a shared two-core machine.
MAX_EXAMPLES = 150
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    # a request the document says is invalid gets a 4xx
    checks.negative_data_rejection,
]

schema = schemathesis.openapi.from_dict(build_spec())


def pick(value, choices: list):
    """One of ``choices`` or ``value`` itself, the same for the same value (so that Hypothesis
    can replay and shrink what it found)."""
    options = [*choices, value]
    return options[zlib.crc32(repr(value).encode()) % len(options)]


@pytest.fixture
def aim(db, site, api_key):
    """Install the hook that aims each case at this test's site, customer and rows."""
    token = make_token(site, "fuzz", email="fuzz@example.com", lifetime=6 * 3600)
    claims = verify_customer_token(site, token)
    customer = upsert_customer(site, claims)
    items = [
        roadmap.create_item(site, title="Single sign-on", status="planned"),
        roadmap.create_item(site, title="CSV export", status="shipped"),
        roadmap.create_item(site, title="Internal tooling", public=False),
        roadmap.suggest(site, customer, title="Dark mode please"),
    ]
    db.session.commit()
    item_ids = [item.id for item in items]
    reasons = [reason.key for reason in flow.active_reasons(site)]
    turn = itertools.count()

    def new_session(answered: bool) -> str:
        session, _ = flow.start_session(site, claims, locale="en")
        if answered:  # too expensive: the 30 % discount is shown
            flow.answer_session(site, session, reason_key="too_expensive")
        db.session.commit()
        return session.public_id

    def before_call(context, case, kwargs):
        params = case.path_parameters
        if params and "site_key" in params:
            params["site_key"] = site.key
        if params and "session_id" in params and next(turn) % 2 == 0:
            # every other case gets a session of its own (answered, for completions)
            params["session_id"] = new_session(case.path.endswith("/complete"))
        if params and isinstance(params.get("customer_id"), str):
            params["customer_id"] = pick(params["customer_id"], ["fuzz"])
        item_id = params.get("item_id") if params else None
        if isinstance(item_id, int) and not isinstance(item_id, bool) and 0 < item_id <= MAX_ID:
            params["item_id"] = pick(item_id, item_ids)
        body = case.body
        if isinstance(body, dict) and "/widget/" in case.path:
            if isinstance(body.get("token", ""), str):
                body["token"] = token
            if isinstance(body.get("reason"), str):
                body["reason"] = pick(body["reason"], reasons)
            if isinstance(body.get("offer"), str):
                body["offer"] = pick(body["offer"], ["discount_30"])
        if "/widget/" not in case.path:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {api_key}"}

    schemathesis.hook("before_call")(before_call)
    yield
    GLOBAL_HOOK_DISPATCHER.unregister(before_call)


def test_the_fuzzed_document_is_the_one_served(client):
    assert client.get("/api/v1/openapi.json").get_json() == build_spec()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_a_5xx_or_off_the_document(case, app, aim):
    case.call_and_validate(app=app, checks=CHECKS)
