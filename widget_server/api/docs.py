"""The OpenAPI 3 document, generated from the marshmallow schemas."""

from __future__ import annotations

from functools import cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, jsonify

from widget_server.api import schemas

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")

ERRORS = {
    "400": "Malformed request (invalid_json, invalid_cursor, …)",
    "401": "Missing or invalid customer token / API key (the code says which)",
    "403": "Origin not allowed for this site",
    "404": "Unknown site or session",
    "409": "Conflicts with an earlier request (session_completed, session_conflict)",
    "422": "Invalid fields (validation_error with details per field)",
    "429": "Rate limited",
}


def _errors() -> dict:
    return {
        code: {"description": text, "content": {"application/json": {"schema": "Error"}}}
        for code, text in ERRORS.items()
    }


def _json(schema: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _widget_op(summary: str, body: str, out: str, ok: str = "200") -> dict:
    return {
        "post": {
            "tags": ["widget"],
            "summary": summary,
            "description": "Public, cookie-less. Send JSON; `Content-Type: text/plain` is also "
            "accepted so browsers skip the CORS preflight.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {ok: _json(out, "OK"), **_errors()},
        }
    }


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
        "SuggestionInput", "SuggestionOut", "RoadmapItemIn", "RoadmapItemOut", "RoadmapItemPage",
    ):  # fmt: skip
        spec.components.schema(name, schema=getattr(schemas, name))
    spec.components.schema("Error", schema=schemas.ErrorOut)
    site = {"name": "site_key", "in": "path", "required": True, "schema": {"type": "string"}}
    sid = {"name": "session_id", "in": "path", "required": True, "schema": {"type": "string"}}
    spec.path(
        path="/api/v1/widget/{site_key}/sessions",
        parameters=[site],
        operations=_widget_op("Start a cancellation flow", "StartInput", "StartOut", "201"),
    )
    spec.path(
        path="/api/v1/widget/{site_key}/sessions/{session_id}/answer",
        parameters=[site, sid],
        operations=_widget_op("Record the reason; get the save offer", "AnswerInput", "AnswerOut"),
    )
    spec.path(
        path="/api/v1/widget/{site_key}/sessions/{session_id}/complete",
        parameters=[site, sid],
        operations=_widget_op("Complete with an outcome", "CompleteInput", "ResultOut"),
    )
    date_params = [
        {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
    ]
    spec.path(
        path="/api/v1/sessions",
        operations={
            "get": {
                "tags": ["data"],
                "summary": "Cancellation sessions started in a date range (default: 30 days)",
                "security": [{"apiKey": []}],
                "parameters": [
                    *date_params,
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                    },
                ],
                "responses": {"200": _json("SessionPage", "A page of sessions"), **_errors()},
            }
        },
    )
    spec.path(
        path="/api/v1/insights/reasons",
        operations={
            "get": {
                "tags": ["data"],
                "summary": "Reasons ranked by lost MRR (minor units)",
                "security": [{"apiKey": []}],
                "parameters": [
                    *date_params,
                    {"name": "plan", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": _json("RankingOut", "The ranking"), **_errors()},
            }
        },
    )
    item = {"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    spec.path(
        path="/api/v1/widget/{site_key}/roadmap",
        parameters=[site],
        operations=_widget_op("The public board (token optional)", "BoardInput", "BoardOut"),
    )
    spec.path(
        path="/api/v1/widget/{site_key}/roadmap/items/{item_id}/vote",
        parameters=[site, item],
        operations=_widget_op("Vote (true) or unvote (false), idempotent", "VoteInput", "VoteOut"),
    )
    spec.path(
        path="/api/v1/widget/{site_key}/roadmap/suggestions",
        parameters=[site],
        operations=_widget_op(
            "Suggest an idea (moderated)", "SuggestionInput", "SuggestionOut", "201"
        ),
    )
    secured = {"tags": ["data"], "security": [{"apiKey": []}]}
    spec.path(
        path="/api/v1/roadmap/items",
        operations={
            "get": {
                **secured,
                "summary": "Roadmap items with votes, companies, voters' MRR and lost MRR",
                "parameters": [
                    {"name": "sort", "in": "query", "schema": {"type": "string"}},
                    {"name": "status", "in": "query", "schema": {"type": "string"}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                    },
                ],
                "responses": {"200": _json("RoadmapItemPage", "Items"), **_errors()},
            },
            "post": {
                **secured,
                "summary": "Create an item",
                "requestBody": {"content": {"application/json": {"schema": "RoadmapItemIn"}}},
                "responses": {"201": _json("RoadmapItemOut", "Created"), **_errors()},
            },
        },
    )
    spec.path(
        path="/api/v1/roadmap/items/{item_id}",
        parameters=[item],
        operations={
            "get": {
                **secured,
                "summary": "One item",
                "responses": {"200": _json("RoadmapItemOut", "The item"), **_errors()},
            },
            "patch": {
                **secured,
                "summary": "Change fields; a new status notifies voters",
                "requestBody": {"content": {"application/json": {"schema": "RoadmapItemIn"}}},
                "responses": {"200": _json("RoadmapItemOut", "Updated"), **_errors()},
            },
        },
    )
    return spec.to_dict()


@bp.get("/openapi.json")
def openapi():
    response = jsonify(build_spec())
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
