"""The OpenAPI document describes every /api route, its query parameters and its error codes."""

import re

from widget_server.api.docs import CODES

METHODS = {"get", "post", "put", "patch", "delete"}


def documented(spec) -> set[tuple[str, str]]:
    return {
        (path, method.upper())
        for path, operations in spec["paths"].items()
        for method in operations
        if method in METHODS
    }


def test_every_api_route_is_in_the_document(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            # HEAD and OPTIONS (the CORS preflight) come with every route
            routes |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert len(routes) >= 18
    assert routes - documented(spec) == set(), "routes missing from the OpenAPI document"
    assert documented(spec) - routes == set(), "documented operations without a route"


def test_query_parameters_and_error_codes_are_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    segments = spec["paths"]["/api/v1/insights/segments"]["get"]
    assert {p["name"] for p in segments["parameters"]} == {"from", "to", "plan", "segment", "by"}
    similar = spec["paths"]["/api/v1/widget/{site_key}/roadmap/similar"]["get"]
    assert [p["name"] for p in similar["parameters"]] == ["q"]

    def codes(path, method, status):
        response = spec["paths"][path][method]["responses"][status]
        return response["content"]["application/json"]["schema"]["properties"]["error"][
            "properties"
        ]["code"]["enum"]

    answer = "/api/v1/widget/{site_key}/sessions/{session_id}/answer"
    complete = "/api/v1/widget/{site_key}/sessions/{session_id}/complete"
    vote = "/api/v1/widget/{site_key}/roadmap/items/{item_id}/vote"
    assert "session_completed" in codes(answer, "post", "409")
    assert "offer_not_shown" in codes(complete, "post", "422")
    assert "item_not_found" in codes(vote, "post", "404")
    assert "item_not_votable" in codes(vote, "post", "409")
    assert "payload_too_large" in codes("/api/v1/roadmap/items", "post", "413")
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            for status, response in operation["responses"].items():
                if status.startswith("4"):
                    assert set(codes(path, method, status)) <= set(CODES), (path, method)
                    assert response["description"]
    for name in ("SummaryOut", "SegmentsOut", "OffersOut", "TrendOut", "SimilarOut"):
        assert spec["components"]["schemas"][name]["properties"]
