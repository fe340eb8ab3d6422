"""What every door refuses before a view runs: NUL characters and lone surrogates in the URL,
query string and form fields, JSON nested too deep, ids beyond an INTEGER column.

Bodies over ``MAX_CONTENT_LENGTH`` (1 MB, see config) are refused by Werkzeug with a 413.
Field-level rules (single-line text, lengths, ranges) are the services' and the schemas'.
"""

from __future__ import annotations

import json
import re

from flask import Flask, request
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter, ValidationError

from widget_server.errors import BadRequest
from widget_server.models import MAX_ID

MAX_JSON_DEPTH = 32
# NUL (PostgreSQL refuses it in text) and lone surrogates (no encoder writes them).
_UNREADABLE = re.compile("[\x00\ud800-\udfff]")


class IdConverter(IntegerConverter):
    """``<int:…>`` in every route: a number beyond an INTEGER column matches no route (404),
    instead of reaching the database as an out-of-range parameter."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)

    def to_python(self, value: str) -> int:
        try:
            return super().to_python(value)
        except ValidationError:
            # Werkzeug would answer 405 when another method's rule has the same path.
            raise NotFound() from None


def whole_number(text: str | None, low: int = 1, high: int = MAX_ID) -> int | None:
    """``text`` as an int when it is plain ASCII digits within ``low``..``high``, else None
    (``str.isdigit`` also takes "²", which ``int`` refuses, and ``int`` refuses more than 4300
    digits)."""
    if not text or not text.isascii() or not text.isdigit() or len(text) > len(str(high)):
        return None
    number = int(text)
    return number if low <= number <= high else None


def _unreadable(text: str) -> bool:
    return _UNREADABLE.search(text) is not None


def _refuse(where: str) -> BadRequest:
    return BadRequest(
        f"The {where} contains a NUL character or invalid Unicode",
        code="invalid_characters",
    )


def check_request() -> None:
    """Refuse NUL characters and lone surrogates in the path, query string and form fields
    (the JSON APIs read no forms: :func:`load_json` checks their bodies).

    :raises BadRequest: ``invalid_characters``.
    """
    if _unreadable(request.path):
        raise _refuse("URL")
    sources = [(request.args, "query string")]
    if not request.path.startswith("/api/"):
        sources.append((request.form, "form"))
    for source, where in sources:
        for key, values in source.lists():
            if _unreadable(key) or any(_unreadable(value) for value in values):
                raise _refuse(where)


def load_json(raw: bytes | str):
    """Parse a JSON request body: UTF-8, JSON as RFC 8259 has it (no NaN or Infinity), at most
    ``MAX_JSON_DEPTH`` levels of arrays and objects, no NUL character or lone surrogate in any
    string or key.

    :raises BadRequest: ``invalid_json``, ``json_too_deep`` or ``invalid_characters``.
    """
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError as exc:  # deeper than the parser goes: surely too deep
        raise _too_deep() from exc
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise BadRequest("The request body is not valid JSON", code="invalid_json") from exc
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise _too_deep()
            if isinstance(value, dict):
                if any(_unreadable(key) for key in value):
                    raise _refuse("request body")
                value = value.values()
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and _unreadable(value):
            raise _refuse("request body")
    return data


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _too_deep() -> BadRequest:
    return BadRequest(
        f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep", code="json_too_deep"
    )


def json_object(raw: bytes | str) -> dict:
    """:func:`load_json` for bodies that must be one JSON object.

    :raises BadRequest: as :func:`load_json`, and ``invalid_json`` for anything but an object.
    """
    data = load_json(raw) if raw else None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object", code="invalid_json")
    return data


def register(app: Flask) -> None:
    """Install the guards; runs before the blueprints register their routes."""
    app.url_map.converters["int"] = IdConverter
    # An app-level URL value preprocessor runs before the blueprints' (which load the site
    # from the URL) and before any before_request function.
    app.url_value_preprocessor(lambda endpoint, values: check_request())
