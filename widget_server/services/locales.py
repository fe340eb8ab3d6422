"""Locale negotiation shared by the widget API and the hosted pages."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

# The locales Keepkit ships: English (the catalogs' source language) and every locale with a
# catalog, widget_server/translations/<locale>/LC_MESSAGES/messages.po. A new locale is that
# one file (docs/translations.md).
_CATALOGS = Path(__file__).resolve().parent.parent / "translations"
SUPPORTED_LOCALES: tuple[str, ...] = (
    "en",
    *sorted(
        po.parents[1].name
        for po in _CATALOGS.glob("*/LC_MESSAGES/messages.po")
        if po.parents[1].name != "en"
    ),
)


def supported(tag: str | None) -> str | None:
    """The shipped locale a BCP 47 tag such as ``de-AT`` names, if any."""
    if tag:
        base = tag.strip().replace("_", "-").split("-")[0].lower()
        if base in SUPPORTED_LOCALES:
            return base
    return None


def pick_locale(requested: str | None, default: str = "en") -> str:
    """Map a BCP 47 tag such as ``de-AT`` to a supported locale, else the site default."""
    return supported(requested) or (default if default in SUPPORTED_LOCALES else "en")


def offer_title(texts: Mapping | None, locale: str) -> str | None:
    """An offer's title (``texts``: ``{locale: {"title": …}}``) in ``locale``, else English."""
    titles = {loc: t.get("title") for loc, t in (texts or {}).items() if isinstance(t, Mapping)}
    return translate({loc: title for loc, title in titles.items() if title}, locale)


def translate(texts: Mapping | None, locale: str, fallback: str = "en"):
    """Pick ``texts[locale]``, falling back to English, then to any translation.

    For texts that are data (an admin's per-locale reason labels, offers, status labels);
    the app's own sentences are in the catalogs (``widget_server.i18n``)."""
    if not texts:
        return None
    for key in (locale, fallback, "en"):
        if texts.get(key):
            return texts[key]
    return next(iter(texts.values()))
