"""Text from outside: the single-line rule every door applies, and Markdown written by admins
and customers, rendered safely."""

from __future__ import annotations

import re
from functools import cache

import nh3
from markdown_it import MarkdownIt

from widget_server.errors import ValidationError
from widget_server.i18n import N_, Text

# Unicode category Cc (C0 controls with CR, LF, TAB and NUL; DEL; C1 controls with NEL), the
# line and paragraph separators, and lone surrogates (a Python str holds a surrogate only when
# it is unpaired: JSON's "\ud800" escape, for one). Such text can split a header or a log line,
# and no database or encoder stores lone surrogates.
_NOT_SINGLE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# Multi-line text (comments, descriptions, offer bodies) keeps its line breaks and tabs, but
# NUL (PostgreSQL refuses it in text) and lone surrogates are refused there too.
_NOT_STORABLE = re.compile("[\x00\ud800-\udfff]")

SINGLE_LINE_RULE = N_("one line of text: no line breaks, control characters or invalid Unicode")
STORABLE_RULE = N_("text without NUL characters or invalid Unicode")


def is_single_line(text: str) -> bool:
    """Whether ``text`` is one line of valid Unicode text without control characters."""
    return _NOT_SINGLE_LINE.search(text) is None


def is_storable(text: str) -> bool:
    """Whether multi-line ``text`` holds no NUL character and no lone surrogate."""
    return _NOT_STORABLE.search(text) is None


def single_line(value: str | None, field: str | Text, label: Text | None = None) -> str:
    """``value`` (``None`` as ``""``) when it is a single line, checked before any stripping.

    :raises ValidationError: ``invalid_characters``, with ``field`` (in English) in the
        details; the message names the field by ``label``, else by ``field``.
    """
    value = "" if value is None else value
    if not isinstance(value, str) or not is_single_line(value):
        raise ValidationError(
            N_("%(field)s must be %(rule)s"),
            params={"field": label or field, "rule": Text(SINGLE_LINE_RULE)},
            code="invalid_characters",
            details={str(field): SINGLE_LINE_RULE},
        )
    return value


def storable(value: str | None, field: str | Text, label: Text | None = None) -> str:
    """``value`` (``None`` as ``""``) when it is storable multi-line text.

    :raises ValidationError: ``invalid_characters`` (as :func:`single_line`).
    """
    value = "" if value is None else value
    if not isinstance(value, str) or not is_storable(value):
        raise ValidationError(
            N_("%(field)s must be %(rule)s"),
            params={"field": label or field, "rule": Text(STORABLE_RULE)},
            code="invalid_characters",
            details={str(field): STORABLE_RULE},
        )
    return value


ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "code",
    "pre",
    "ul",
    "ol",
    "li",
    "a",
    "blockquote",
    "h3",
    "h4",
}


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")


def render_markdown(text: str | None) -> str:
    """Markdown → sanitised HTML (raw HTML is escaped, links are http(s)/mailto only)."""
    html = _parser().render(text or "")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
