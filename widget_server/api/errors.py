"""One error envelope for every /api/* error; plain pages elsewhere."""

from __future__ import annotations

import logging

import marshmallow
from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from widget_server.errors import KeepkitError

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


def envelope(status: int, code: str, message: str, details: dict | None = None):
    body = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    response = jsonify(body)
    response.status_code = status
    return response


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _page(status: int, message: str):
    return render_template("error.html", status=status, message=message), status


def register(app: Flask) -> None:
    @app.errorhandler(KeepkitError)
    def _domain(exc: KeepkitError):
        if _is_api():
            return envelope(exc.status, exc.code, exc.message, exc.details)
        return _page(exc.status, exc.message)

    @app.errorhandler(marshmallow.ValidationError)
    def _invalid(exc: marshmallow.ValidationError):
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        if _is_api():
            return envelope(422, "validation_error", "The request has invalid fields", messages)
        return _page(422, "The request has invalid fields")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        if _is_api():
            code = HTTP_CODES.get(status, "http_error")
            message = exc.description or exc.name
            if status == 429:
                message = f"Too many requests: limit is {exc.description}. Retry later."
            response = envelope(status, code, message)
            if status == 405 and exc.valid_methods:
                response.headers["Allow"] = ", ".join(exc.valid_methods)
            return response
        if status < 400:
            return exc
        return _page(status, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("Unhandled error on %s %s", request.method, request.path)
        if _is_api():
            return envelope(500, "internal_error", "Something went wrong on our side")
        return _page(500, "Something went wrong on our side")
