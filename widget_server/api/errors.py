"""One error envelope for every /api/* error; plain pages elsewhere."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import marshmallow
from flask import Flask, jsonify, make_response, render_template, request
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from widget_server.errors import KeepkitError
from widget_server.extensions import db

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


def error_page(status: int, message: str):
    return render_template("error.html", status=status, message=message), status


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
        return error_page(422, "The request has invalid fields")

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
        return error_page(status, exc.description or exc.name)

    def _database_unavailable(exc: Exception):
        # The connection may be gone already; the session is discarded at teardown anyway.
        with contextlib.suppress(sa_exc.SQLAlchemyError):
            db.session.rollback()
        # One line, no traceback: during an outage every request ends here.
        reason = str(getattr(exc, "orig", None) or exc).strip().partition("\n")[0]
        log.warning("Database unavailable on %s %s: %s", request.method, request.path, reason)
        message = "The database is not reachable; retry in a few seconds"
        if _is_api():
            response = envelope(503, "database_unavailable", message)
        else:
            response = make_response(error_page(503, message))
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    for error in DATABASE_UNAVAILABLE:
        app.register_error_handler(error, _database_unavailable)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("Unhandled error on %s %s", request.method, request.path)
        if _is_api():
            return envelope(500, "internal_error", "Something went wrong on our side")
        return error_page(500, "Something went wrong on our side")
