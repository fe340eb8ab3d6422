"""The OpenAPI 3 document, generated from the marshmallow schemas.

Every /api route is described (a test walks the URL map), with its query parameters from the
query schemas and, per status, the error codes it can answer with (as an enum, so a client can
switch on them and a fuzzer can check them).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, jsonify

from widget_server.api import schemas
from widget_server.guards import MAX_JSON_DEPTH
from widget_server.models import MAX_ID

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")

# What each error code means; every code an operation lists must be here.
CODES = {
    # the request as a whole
    "invalid_json": "The body is not a JSON object",
    "json_too_deep": f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep",
    "invalid_characters": "NUL or invalid Unicode in the URL, query string or body, or text "
    "that must be one line and is not",
    "payload_too_large": "The body is over 1 MB",
    "validation_error": "Invalid fields; `details` names each one",
    "rate_limited": "Too many requests from this address; retry later",
    "not_found": "No such URL (e.g. an id beyond 2147483647, a customer id with a line break)",
    # widget API
    "site_not_found": "No site with this key",
    "origin_not_allowed": "The page's Origin is not in the site's allowed origins",
    "token_missing": "A customer token is required",
    "token_malformed": "The token is not a well-formed JWT",
    "token_algorithm_not_allowed": "The token is not signed with HS256",
    "token_bad_signature": "The token's signature matches none of the site's secrets",
    "token_expired": "The token has expired (60 s of skew allowed)",
    "token_lifetime_too_long": "'exp' is more than 24 hours ahead",
    "token_not_yet_valid": "'nbf' or 'iat' is in the future",
    "token_missing_claim": "'sub' or 'exp' is missing",
    "token_invalid_claim": "A claim has the wrong type or is out of range",
    "invalid_session_id": "'session' is not a UUID",
    "session_conflict": "The session id belongs to another customer",
    "session_not_found": "No such session for this customer",
    "session_completed": "The session already has (another) outcome",
    "unknown_reason": "Not one of the site's active reasons",
    "comment_required": "This reason needs a comment",
    "text_too_long": "A comment or answer over 2000 characters",
    "unknown_roadmap_item": "Not a public roadmap item, or not a missing-feature reason",
    "invalid_outcome": "The outcome is not cancelled, saved or dismissed",
    "offer_not_shown": "The offer was not shown in this session",
    "item_not_found": "No such roadmap item (hidden items and suggestions in moderation included)",
    "item_not_votable": "The item's status takes no votes (shipped, declined, merged)",
    "invalid_item": "An item field is out of range (title length, target format, …)",
    # data API
    "missing_api_key": "Send 'Authorization: Bearer <site API key>'",
    "invalid_api_key": "The API key is unknown or revoked",
    "invalid_cursor": "The cursor is not one this API returned",
    "invalid_period": "'from' is after 'to', or a date is outside 1970-2999",
    "invalid_segment": "'by' is not plan, tenure, mrr or attr:<attribute>",
    "invalid_status": "Not a roadmap status key",
    "customer_not_found": "No such customer on this site (erased ones included)",
}
TOKEN_CODES = [code for code in CODES if code.startswith("token_")]
BODY_CODES = ["invalid_json", "json_too_deep", "invalid_characters"]

WIDGET_POST = {
    400: BODY_CODES,
    401: TOKEN_CODES,
    403: ["origin_not_allowed"],
    404: ["site_not_found"],
    413: ["payload_too_large"],
    422: ["validation_error"],
    429: ["rate_limited"],
}
WIDGET_GET = {
    400: ["invalid_characters"],
    403: ["origin_not_allowed"],
    404: ["site_not_found"],
    422: ["validation_error"],
    429: ["rate_limited"],
}
DATA_GET = {
    400: ["invalid_characters"],
    401: ["missing_api_key", "invalid_api_key"],
    422: ["validation_error"],
    429: ["rate_limited"],
}
ANSWER_422 = [
    "unknown_reason", "comment_required", "text_too_long", "unknown_roadmap_item",
    "invalid_characters",
]  # fmt: skip
COMPLETE_422 = ["invalid_outcome", "offer_not_shown"]
DATA_WRITE = {
    **DATA_GET,
    400: BODY_CODES,
    413: ["payload_too_large"],
    422: ["validation_error", "invalid_item", "invalid_characters", "invalid_status"],
}


def _merge(base: dict, extra: dict) -> dict:
    merged = {status: list(codes) for status, codes in base.items()}
    for status, codes in extra.items():
        merged[status] = list(dict.fromkeys([*merged.get(status, []), *codes]))
    return merged


def _error(codes: list[str]) -> dict:
    return {
        "description": "; ".join(f"`{code}`: {CODES[code]}" for code in codes),
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string", "enum": codes},
                                "message": {"type": "string"},
                                "details": {"type": "object"},
                            },
                        }
                    },
                }
            }
        },
    }


def _json(schema: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(
    summary: str,
    errors: dict,
    ok: tuple[str, str, str],
    *,
    tag: str,
    body: str | dict | None = None,
    query=None,
    description: str | None = None,
) -> dict:
    status, schema, text = ok
    operation: dict[str, Any] = {
        "tags": [tag],
        "summary": summary,
        "responses": {
            status: _json(schema, text),
            **{str(code): _error(codes) for code, codes in sorted(errors.items())},
        },
    }
    if description:
        operation["description"] = description
    if body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    if query is not None:
        operation["parameters"] = [{"in": "query", "schema": query}]
    if tag == "data":
        operation["security"] = [{"apiKey": []}]
    return operation


def _widget(summary: str, body: str, out: str, extra: dict, ok: str = "200") -> dict:
    return _op(
        summary,
        _merge(WIDGET_POST, extra),
        (ok, out, "OK"),
        tag="widget",
        body=body,
        description="Public, cookie-less. Send JSON; `Content-Type: text/plain` is also "
        "accepted so browsers skip the CORS preflight.",
    )


def _data(summary: str, out: str, query, extra: dict | None = None) -> dict:
    return _op(summary, _merge(DATA_GET, extra or {}), ("200", out, "OK"), tag="data", query=query)


@cache
def build_spec() -> dict:
    spec = APISpec(
        title="Keepkit API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Public widget API and server-side data API of Keepkit."},
        servers=[{"url": "/"}],
    )
    spec.components.security_scheme("apiKey", {"type": "http", "scheme": "bearer"})
    for name in (
        "StartInput", "StartOut", "AnswerInput", "AnswerOut", "CompleteInput", "ResultOut",
        "SessionPage", "RankingOut", "BoardInput", "BoardOut", "VoteInput", "VoteOut",
        "SuggestionInput", "SuggestionOut", "SimilarOut", "RoadmapItemIn", "RoadmapItemOut",
        "RoadmapItemPage", "SummaryOut", "SegmentsOut", "OffersOut", "TrendOut",
        "ExperimentsOut",
        "CustomerExportOut", "CustomerErasedOut", "EventIn", "EventBatchIn", "EventsOut",
        "RetentionOut", "ReactivationsOut",
    ):  # fmt: skip
        spec.components.schema(name, schema=getattr(schemas, name))
    spec.components.schema("Error", schema=schemas.ErrorOut)
    # PATCH: every field optional, only those sent change
    spec.components.schema("RoadmapItemPatch", schema=schemas.RoadmapItemIn(partial=True))

    site = {"name": "site_key", "in": "path", "required": True, "schema": {"type": "string"}}
    sid = {"name": "session_id", "in": "path", "required": True, "schema": {"type": "string"}}
    item = {
        "name": "item_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    }
    customer = {
        "name": "customer_id",
        "in": "path",
        "required": True,
        "description": "The customer's id in your product (the token's sub)",
        "schema": {"type": "string"},
    }
    session_gone = {404: ["session_not_found"], 409: ["session_completed"]}
    widget = "/api/v1/widget/{site_key}"
    paths = {
        f"{widget}/sessions": (
            [site],
            {
                "post": _widget(
                    "Start a cancellation flow (201; 200 for a retry with the same session id)",
                    "StartInput",
                    "StartOut",
                    {409: ["session_conflict"], 422: ["invalid_session_id"]},
                    ok="201",
                )
            },
        ),
        f"{widget}/sessions/{{session_id}}/answer": (
            [site, sid],
            {
                "post": _widget(
                    "Record the reason; get the save offer",
                    "AnswerInput",
                    "AnswerOut",
                    _merge(session_gone, {422: ANSWER_422}),
                )
            },
        ),
        f"{widget}/sessions/{{session_id}}/complete": (
            [site, sid],
            {
                "post": _widget(
                    "Complete with an outcome",
                    "CompleteInput",
                    "ResultOut",
                    _merge(session_gone, {422: COMPLETE_422}),
                )
            },
        ),
        f"{widget}/roadmap": (
            [site],
            {"post": _widget("The public board (token optional)", "BoardInput", "BoardOut", {})},
        ),
        f"{widget}/roadmap/items/{{item_id}}/vote": (
            [site, item],
            {
                "post": _widget(
                    "Vote (true) or unvote (false), idempotent",
                    "VoteInput",
                    "VoteOut",
                    {404: ["item_not_found", "not_found"], 409: ["item_not_votable"]},
                )
            },
        ),
        f"{widget}/roadmap/suggestions": (
            [site],
            {
                "post": _widget(
                    "Suggest an idea (moderated)",
                    "SuggestionInput",
                    "SuggestionOut",
                    {422: ["invalid_item", "invalid_characters"]},
                    ok="201",
                )
            },
        ),
        f"{widget}/roadmap/similar": (
            [site],
            {
                "get": _op(
                    "Public items whose titles look like what the customer is typing",
                    WIDGET_GET,
                    ("200", "SimilarOut", "Up to five items"),
                    tag="widget",
                    query=schemas.SimilarQuery,
                )
            },
        ),
        "/api/v1/sessions": (
            [],
            {
                "get": _data(
                    "Cancellation sessions started in a date range (default: the last 30 days; "
                    "`from` alone: from that day to today), newest first unless `order=oldest`",
                    "SessionPage",
                    schemas.SessionsQuery,
                    {400: ["invalid_cursor"], 422: ["invalid_period"]},
                )
            },
        ),
        "/api/v1/insights/reasons": (
            [],
            {
                "get": _data(
                    "Reasons ranked by lost MRR (minor units)",
                    "RankingOut",
                    schemas.ReasonsQuery,
                    {422: ["invalid_period"]},
                )
            },
        ),
        "/api/v1/insights/summary": (
            [],
            {
                "get": _data(
                    "Totals for the range, the previous period of the same length and the change",
                    "SummaryOut",
                    schemas.InsightsQuery,
                    {422: ["invalid_period"]},
                )
            },
        ),
        "/api/v1/insights/segments": (
            [],
            {
                "get": _data(
                    "Churn by plan, tenure band, MRR band or a custom attribute (`by=attr:region`)",
                    "SegmentsOut",
                    schemas.InsightsQuery,
                    {422: ["invalid_period", "invalid_segment"]},
                )
            },
        ),
        "/api/v1/insights/offers": (
            [],
            {
                "get": _data(
                    "Per save offer: shown, accepted, save rate, MRR kept",
                    "OffersOut",
                    schemas.InsightsQuery,
                    {422: ["invalid_period"]},
                )
            },
        ),
        "/api/v1/insights/trend": (
            [],
            {
                "get": _data(
                    "Lost MRR per month and reason",
                    "TrendOut",
                    schemas.InsightsQuery,
                    {422: ["invalid_period"]},
                )
            },
        ),
        "/api/v1/insights/retention": (
            [],
            {
                "get": _data(
                    "Saves of the range that kept paying 30/60/90 days later; cancellations "
                    "confirmed by billing and those still paying",
                    "RetentionOut",
                    schemas.RangeQuery,
                    {422: ["invalid_period"]},
                )
            },
        ),
        "/api/v1/insights/reactivations": (
            [],
            {
                "get": _data(
                    "Customers who came back in the range, by the roadmap item whose win-back "
                    "email came before",
                    "ReactivationsOut",
                    schemas.RangeQuery,
                    {422: ["invalid_period"]},
                )
            },
        ),
        "/api/v1/insights/experiments": (
            [],
            {
                "get": _op(
                    "Holdout and A/B tests: per arm sessions, saves, save rate, retained "
                    "after 30 days, MRR kept and discount cost; the lift with its 95 % interval",
                    DATA_GET,
                    ("200", "ExperimentsOut", "OK"),
                    tag="data",
                    description="See docs/experiments.md for the method.",
                )
            },
        ),
        "/api/v1/roadmap/items": (
            [],
            {
                "get": _data(
                    "Roadmap items with votes, companies, voters' MRR and lost MRR",
                    "RoadmapItemPage",
                    schemas.RoadmapQuery,
                    {400: ["invalid_cursor"]},
                ),
                "post": _op(
                    "Create an item",
                    DATA_WRITE,
                    ("201", "RoadmapItemOut", "Created"),
                    tag="data",
                    body="RoadmapItemIn",
                ),
            },
        ),
        "/api/v1/roadmap/items/{item_id}": (
            [item],
            {
                "get": _data(
                    "One item", "RoadmapItemOut", None, {404: ["item_not_found", "not_found"]}
                ),
                "patch": _op(
                    "Change the fields sent; a new status notifies voters",
                    _merge(DATA_WRITE, {404: ["item_not_found", "not_found"]}),
                    ("200", "RoadmapItemOut", "Updated"),
                    tag="data",
                    body="RoadmapItemPatch",
                ),
            },
        ),
        "/api/v1/events": (
            [],
            {
                "post": _op(
                    "Record lifecycle events (one, or a batch of up to 500, all or nothing)",
                    _merge(DATA_WRITE, {}),
                    ("200", "EventsOut", "Stored; ids seen before are counted as duplicates"),
                    tag="data",
                    body={"oneOf": ["EventIn", "EventBatchIn"]},
                    description="Idempotent by `id` within the site: the same id again changes "
                    "nothing. `occurred_at` may be in the past (backfill). Customers Keepkit has "
                    "not seen are created; `mrr.changed` sets the customer's current MRR. An "
                    "invalid event refuses the whole batch (422, `details` names the index and "
                    "the field).",
                ),
            },
        ),
        "/api/v1/customers/{customer_id}": (
            [customer],
            {
                "get": _data(
                    "Export everything stored about one customer (GDPR)",
                    "CustomerExportOut",
                    None,
                    {404: ["customer_not_found", "not_found"]},
                ),
                "delete": _op(
                    "Erase one customer's personal data (GDPR); figures stay",
                    _merge(DATA_GET, {404: ["customer_not_found", "not_found"]}),
                    ("200", "CustomerErasedOut", "Erased"),
                    tag="data",
                ),
            },
        ),
        "/api/v1/openapi.json": (
            [],
            {
                "get": {
                    "tags": ["meta"],
                    "summary": "This document",
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        ),
    }
    for path, (parameters, operations) in paths.items():
        spec.path(path=path, parameters=parameters or None, operations=operations)
    document = spec.to_dict()
    for operations in document["paths"].values():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []) if method != "parameters" else []:
                if parameter["in"] == "query":
                    # absent, never null: a query string has no null
                    parameter["schema"].pop("nullable", None)
                    if parameter["schema"].get("default", "") is None:
                        del parameter["schema"]["default"]
    return document


@bp.get("/openapi.json")
def openapi():
    response = jsonify(build_spec())
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
