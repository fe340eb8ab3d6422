"""One error envelope for every /api/* error; plain pages elsewhere."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import marshmallow
from flask import Flask, g, jsonify, make_response, render_template, request
from flask_babel import gettext
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from widget_server.errors import KeepkitError
from widget_server.extensions import db
from widget_server.i18n import N_, SOURCE_LOCALE, browser_locale, current_locale, use_locale

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


# The database cannot be reached or cannot take the request now: down or restarting, a
# connection cut, the connect timeout, no free connection in the pool, SQLite locked past its
# busy timeout. The client may retry: 503, never a 500 and never a hang.
DATABASE_UNAVAILABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
)
RETRY_AFTER_SECONDS = 5


def envelope(status: int, code: str, message: str, details: dict | None = None):
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    response = jsonify(body)
    response.status_code = status
    return response


def _is_api() -> bool:
    return request.path.startswith("/api/")


# The error page's heading per status, and what it says when the error says nothing better
# (Werkzeug's own descriptions are English sentences).
ERROR_TITLES = {
    400: N_("Bad request"),
    401: N_("Please sign in"),
    403: N_("Not allowed"),
    404: N_("Page not found"),
    405: N_("Not allowed"),
    413: N_("Too large"),
    422: N_("Cannot be done"),
    429: N_("Too many requests"),
    500: N_("Something went wrong"),
    503: N_("Unavailable right now"),
}
GENERIC_MESSAGES = {
    400: N_("The request could not be understood."),
    401: N_("You need to sign in to see this page."),
    403: N_("You do not have access to this page."),
    404: N_("There is no page at this address. Check the link, or go back."),
    405: N_("This page cannot be used this way."),
    413: N_("What was sent is too large."),
    429: N_("Too many requests in a short time. Wait a moment and try again."),
}
INVALID_FIELDS = N_("The request has invalid fields")
OUR_SIDE = N_("Something went wrong on our side")
DATABASE_DOWN = N_("The database is not reachable; retry in a few seconds")


def error_page(status: int, message: str | None = None):
    """The plain error page, in the reader's language: the page's own (set by its view),
    else the browser's ``Accept-Language``, else English. ``message`` is translated when the
    catalogs know it (messages marked with ``N_``); None: a generic sentence for ``status``."""
    if not g.get("page_locale"):
        use_locale(browser_locale() or SOURCE_LOCALE)
    text = gettext(message) if message else gettext(GENERIC_MESSAGES.get(status, OUR_SIDE))
    title = ERROR_TITLES.get(status)
    page = render_template(
        "error.html",
        status=status,
        title=gettext(title) if title else None,
        message=text,
        locale=current_locale(),
    )
    return page, status


def _described(exc: HTTPException) -> str | None:
    """An HTTP error's own description, None when it is Werkzeug's default text."""
    if not exc.description or exc.description == type(exc).description:
        return None
    return exc.description


def register(app: Flask) -> None:
    @app.errorhandler(KeepkitError)
    def _domain(exc: KeepkitError):
        if _is_api():
            return envelope(exc.status, exc.code, exc.message, exc.details)
        return error_page(exc.status, exc.message)

    @app.errorhandler(marshmallow.ValidationError)
    def _invalid(exc: marshmallow.ValidationError):
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        if _is_api():
            return envelope(422, "validation_error", "The request has invalid fields", messages)
        return error_page(422, INVALID_FIELDS)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        if _is_api():
            code = HTTP_CODES.get(status, "http_error")
            message = exc.description or exc.name
            if status == 429:
                message = f"Too many requests: limit is {exc.description}. Retry later."
            response = envelope(status, code, message)
            if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
                response.headers["Allow"] = ", ".join(exc.valid_methods)
            return response
        if status < 400:
            return exc
        return error_page(status, _described(exc))

    def _database_unavailable(exc: Exception):
        # The connection may be gone already; the session is discarded at teardown anyway.
        with contextlib.suppress(sa_exc.SQLAlchemyError):
            db.session.rollback()
        # One line, no traceback: during an outage every request ends here.
        reason = str(getattr(exc, "orig", None) or exc).strip().partition("\n")[0]
        log.warning("Database unavailable on %s %s: %s", request.method, request.path, reason)
        if _is_api():
            response = envelope(503, "database_unavailable", DATABASE_DOWN)
        else:
            response = make_response(error_page(503, DATABASE_DOWN))
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    for error in DATABASE_UNAVAILABLE:
        app.register_error_handler(error, _database_unavailable)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("Unhandled error on %s %s", request.method, request.path)
        if _is_api():
            return envelope(500, "internal_error", OUR_SIDE)
        return error_page(500, OUR_SIDE)
