"""Domain errors. Services raise them; the API and admin translate them to responses."""

from __future__ import annotations


class KeepkitError(Exception):
    """Base class. ``code`` is a stable snake_case identifier shown to API clients."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class BadRequest(KeepkitError):
    """The request cannot be read at all (not JSON, a cursor we did not issue)."""

    code = "bad_request"
    status = 400


class ValidationError(KeepkitError):
    code = "validation_error"
    status = 422


class NotFound(KeepkitError):
    code = "not_found"
    status = 404


class Conflict(KeepkitError):
    code = "conflict"
    status = 409


class Forbidden(KeepkitError):
    code = "forbidden"
    status = 403


class InvalidToken(KeepkitError):
    """A customer token that cannot be trusted. ``code`` says why."""

    code = "invalid_token"
    status = 401


class Unauthorized(KeepkitError):
    code = "unauthorized"
    status = 401
