"""Translations: every sentence Keepkit shows lives in one gettext catalog per locale,
``widget_server/translations/<locale>/LC_MESSAGES/messages.po`` (English is the source
language: the msgids themselves). See docs/translations.md for adding a string or a locale.

- Python marks strings with ``gettext`` / ``ngettext`` (``flask_babel``) where the reader's
  locale is known, or with :func:`N_` where a string is defined before it is read (tables of
  labels); templates use ``{{ _('…') }}`` / ``{% trans %}``.
- The reader's locale is chosen per surface by its view (the customer's token or browser and
  the site default, see ``services.locales.pick_locale``) and set with :func:`use_locale`; the
  admin area uses the signed-in admin's choice, else the browser's language
  (:func:`admin_locale`); the worker composes an email (the digest and its PDF included)
  inside ``flask_babel.force_locale(recipient_locale)``. Without either the locale is English.
- Figures (``reports.formatting``) follow the same locale as the text around them.
- Code that runs outside a request and needs another locale than the current one (the widget
  bundle's few strings shown before the first API answer, the admin's default status labels)
  uses :func:`gettext_in`.

Catalogs are compiled in memory from the ``.po`` files, once per process, instead of shipping
compiled ``.mo`` files: a fresh clone, an editable install and a wheel all work without a
compile step, and a compiled file can never be stale relative to its source. (Parsing the
three catalogs takes milliseconds.) Fuzzy entries are left out, as ``pybabel compile`` does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from flask import Flask, g, has_request_context, request
from flask_babel import Babel, Domain, get_locale, refresh

from widget_server.services.locales import SUPPORTED_LOCALES, pick_locale, supported

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
DOMAIN = "messages"
SOURCE_LOCALE = "en"


def N_(message: str) -> str:  # gettext's conventional name for a marker
    """Mark ``message`` for the catalog without translating it (translated where it is read)."""
    return message


def catalog_path(locale: str) -> Path:
    return TRANSLATIONS_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog of ``locale`` (English, and an unknown locale: the msgids)."""
    path = catalog_path(locale)
    if locale == SOURCE_LOCALE or not path.exists():
        return NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def gettext_in(locale: str, message: str, **variables) -> str:
    """``message`` translated into ``locale``, with ``%(name)s`` placeholders filled in."""
    text = translations(locale).gettext(message)
    return text % variables if variables else text


def ngettext_in(locale: str, singular: str, plural: str, n: int, **variables) -> str:
    text = translations(locale).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


class Text:
    """A sentence from the catalogs with the values it quotes, kept apart until it is read.

    ``str(text)`` is the English sentence (the data API's envelope, logs); :meth:`localized`
    is the same sentence in the current locale. A value that is itself a :class:`Text` (a
    field's name, the reason an address was refused) is translated with the sentence, and a
    number (``int``, ``float``, ``Decimal``) is written the way the reader writes numbers
    (``10,000.50``, ``10.000,50``, ``10 000,50``)::

        Text(N_("%(field)s must be at most %(max)s characters"),
             field=Text(N_("The title")), max=10_000)
    """

    __slots__ = ("params", "template")

    def __init__(self, template: str, /, **params: object):
        self.template = template
        self.params = params

    def __str__(self) -> str:
        return self.render(SOURCE_LOCALE)

    def __repr__(self) -> str:
        return f"Text({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Text):
            return (self.template, self.params) == (other.template, other.params)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.template)

    def localized(self) -> str:
        """The sentence in the current locale (English where the catalog has no entry)."""
        return self.render(current_locale())

    def render(self, locale: str) -> str:
        template = translations(locale).gettext(self.template)
        if not self.params:
            return template
        return template % {name: _value(value, locale) for name, value in self.params.items()}


def _value(value: object, locale: str) -> object:
    if isinstance(value, Text):
        return value.render(locale)
    if isinstance(value, Decimal):  # as many decimals as it has: 49.00 stays 49,00 in German
        places = max(0, -int(value.as_tuple().exponent))
        return format_decimal(value, "#,##0." + "0" * places if places else "#,##0", locale=locale)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_decimal(value, locale=locale)
    return value


class CatalogTexts(Mapping[str, str]):
    """One message in every shipped locale, read like an admin-entered ``{locale: text}``
    dict (``texts["de"]``), so built-in texts and per-site overrides are looked up alike."""

    def __init__(self, message: str):
        self.message = message

    def __getitem__(self, locale: str) -> str:
        if locale not in SUPPORTED_LOCALES:
            raise KeyError(locale)
        return gettext_in(locale, self.message)

    def __iter__(self) -> Iterator[str]:
        return iter(SUPPORTED_LOCALES)

    def __len__(self) -> int:
        return len(SUPPORTED_LOCALES)


class CatalogDomain(Domain):
    """Flask-Babel's message domain, reading the catalogs compiled by :func:`translations`."""

    def get_translations(self):
        locale = get_locale()
        return translations(str(locale)) if locale else NullTranslations()


class KeepkitBabel(Babel):
    @property
    def domain_instance(self):
        return _DOMAIN


_DOMAIN = CatalogDomain(domain=DOMAIN)


def use_locale(locale: str) -> None:
    """Render the rest of this request in ``locale`` (a supported locale code)."""
    g.page_locale = locale
    refresh()


def browser_locale() -> str | None:
    """The first language of the request's ``Accept-Language`` that Keepkit ships, if any."""
    if not has_request_context():
        return None
    return next((found for tag, _ in request.accept_languages if (found := supported(tag))), None)


def customer_locale(requested: str | None, default: str) -> str:
    """The locale of a page a customer reads: the one it was asked for (the integrator's
    ``locale``), else the browser's first language Keepkit ships, else ``default`` (the
    site's)."""
    return supported(requested) or browser_locale() or pick_locale(None, default)


def admin_locale(chosen: str | None) -> str:
    """The locale of an admin's pages: their own choice (``AdminUser.locale``), else the
    browser's language among the shipped ones, else English."""
    if chosen in SUPPORTED_LOCALES:
        return chosen
    return browser_locale() or SOURCE_LOCALE


def current_locale() -> str:
    """The locale this request (or this ``force_locale`` block) renders in."""
    locale = get_locale()
    return str(locale) if locale else SOURCE_LOCALE


def _selected_locale() -> str:
    return g.get("page_locale") or SOURCE_LOCALE


def init_app(app: Flask) -> None:
    """Flask-Babel with the catalogs: ``_``/``gettext``/``ngettext`` in templates, Babel's
    number, date and money filters (``decimalformat``, ``dateformat``, ``currencyformat``)."""
    KeepkitBabel(app, default_locale=SOURCE_LOCALE, locale_selector=_selected_locale)
