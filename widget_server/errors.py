"""Domain errors. Services raise them; the API and admin translate them to responses.

A service writes the message as an English template marked for the catalogs, with named
placeholders filled from ``params``::

    raise ValidationError(N_("Offer %(offer)r was not shown in this session"),
                          code="offer_not_shown", params={"offer": key})

``message`` is the English sentence (the data API's envelope and the logs show it, unchanged
whatever the reader's language); :meth:`KeepkitError.localized` is the same sentence in the
current locale (the admin's pages, the hosted page). A value that is itself a sentence (a
field's name) is a :class:`~widget_server.i18n.Text` and is translated with it; numbers are
passed as numbers and grouped in the reader's locale. See docs/translations.md."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from widget_server.i18n import Text


class KeepkitError(Exception):
    """Base class. ``code`` is a stable snake_case identifier shown to API clients."""

    code = "error"
    status = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict | None = None,
        params: Mapping[str, Any] | None = None,
    ):
        self.text = Text(message, **(params or {}))
        self.message = str(self.text)
        super().__init__(self.message)
        if code:
            self.code = code
        self.details = details

    def localized(self) -> str:
        """The message in the current locale (English where the catalogs have no entry)."""
        return self.text.localized()


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
