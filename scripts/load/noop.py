"""The floor ``make load`` compares Keepkit with: a Flask app whose one endpoint does nothing.

It answers the widget API's paths with canned JSON of the same shape (the load client reads
the session id, the reasons, the offer and the vote state from them), so the same client can
drive it, served by the same gunicorn config: ``gunicorn -c gunicorn.conf.py
--pythonpath scripts/load noop:app``. What Keepkit costs above it is its own work.
"""

from __future__ import annotations

import json
import uuid

from flask import Flask, Response, request

app = Flask(__name__)

REASONS = [
    {"id": key, "label": label, "requires_text": key == "other", "missing_feature": False}
    for key, label in (
        ("too_expensive", "Too expensive"),
        ("switching", "Switching to another product"),
        ("shutting_down", "Shutting down the company"),
        ("technical_issues", "Technical issues"),
        ("not_sure_how", "Not sure how to use the product"),
        ("missing_features", "Missing features I need"),
        ("other", "Other"),
    )
]
OFFER = {"id": "discount", "type": "discount", "title": "Stay for 30% less", "percent": 30}
BOARD = {
    "locale": "en",
    "can_vote": True,
    "columns": [
        {
            "status": status,
            "label": status.replace("_", " ").title(),
            "items": [
                {
                    "id": index,
                    "title": f"Roadmap item {index}",
                    "description_html": "<p>What it does and why it matters.</p>",
                    "status": status,
                    "status_label": status.replace("_", " ").title(),
                    "target": None,
                    "tags": [],
                    "votes": 42,
                    "votable": status != "shipped",
                    "voted": False,
                }
                for index in range(2)
            ],
        }
        for status in ("under_consideration", "planned", "in_progress", "shipped")
    ],
}


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


@app.route("/<path:path>", methods=["GET", "POST"])
def noop(path: str):
    """Read the JSON body as the widget API would, answer with a canned body."""
    data = json.loads(request.get_data(as_text=True) or "{}")
    parts = path.split("/")
    if path == "healthz":
        return _json({"status": "ok"})
    if parts[-1] == "sessions":
        session = data.get("session") or str(uuid.uuid4())
        return _json({"session": session, "locale": "en", "reasons": REASONS, "roadmap": []}, 201)
    if parts[-1] == "answer":
        return _json({"session": parts[-2], "offer": OFFER})
    if parts[-1] == "complete":
        offer = OFFER if data.get("offer") else None
        return _json({"outcome": data.get("outcome"), "session": parts[-2], "offer": offer})
    if parts[-1] == "vote":
        return _json({"item_id": int(parts[-2]), "votes": 42, "voted": bool(data.get("vote"))})
    if parts[-1] == "roadmap":
        return _json(BOARD)
    return _json({"error": {"code": "not_found", "message": "No such path"}}, 404)
