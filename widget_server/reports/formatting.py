"""Template helpers for amounts, counts, changes and months, in the reader's locale (Babel,
from CLDR): ``$43,820`` for an English reader, ``43.820 $`` for a German one. Amounts are minor
units; how many digits a currency has (JPY 0, USD 2, KWD 3) comes from Babel's currency data.

The locale is the one the text around the figures is in (Flask-Babel's current locale: the
admin's language, the customer page's, or the email recipient's in ``force_locale``), else
English."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import cache

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent, get_currency_precision
from flask_babel import gettext, ngettext
from markupsafe import Markup

from widget_server.i18n import current_locale


def digits(currency: str) -> int:
    """Minor-unit digits of ``currency`` (ISO 4217 via Babel): JPY 0, USD 2, KWD 3."""
    return get_currency_precision(currency)


def points(difference: float | None, locale: str | None = None) -> str:
    """A difference of two rates in percentage points: ``+5.2 pts`` (en), ``+5,2 Pp.`` (de)."""
    if difference is None:
        return "—"
    value = format_decimal(difference * 100, "+0.0;-0.0", locale=locale or current_locale())
    # Translators: a difference of two percentages in percentage points, e.g. "+5.2 pts".
    return gettext("%(value)s pts", value=value)


def major(amount: int | float | None, currency: str) -> Decimal:
    """Minor units to an amount of the currency: ``major(123450, "USD") == Decimal("1234.5")``."""
    return Decimal(round(amount or 0)) / (10 ** digits(currency))


@cache
def _whole_pattern(locale: str) -> str:
    pattern = Locale.parse(locale).currency_formats["standard"].pattern
    return re.sub(r"\.0+", "", pattern)


def money(amount: int | float | None, currency: str, locale: str | None = None) -> str:
    """A figure like a finance tool shows it: ``$43,820``, ``$49.50``, ``43.820 $`` (de).

    Amounts of 100 or more, and whole amounts, are shown without minor units."""
    locale = locale or current_locale()
    value = major(amount, currency)
    if digits(currency) == 0 or abs(value) >= 100 or value == value.to_integral_value():
        return format_currency(
            value.quantize(Decimal(1)), currency, format=_whole_pattern(locale), locale=locale,
            currency_digits=False,
        )  # fmt: skip
    return format_currency(value, currency, locale=locale)


def short_money(amount: float, currency: str, locale: str | None = None) -> str:
    """Chart axes: whole units (``$20,000``)."""
    locale = locale or current_locale()
    value = major(amount, currency).quantize(Decimal(1))
    return format_currency(
        value, currency, format=_whole_pattern(locale), locale=locale, currency_digits=False
    )


def number(value: int | None, locale: str | None = None) -> str:
    """A count with the reader's separators: ``12,345`` (en), ``12.345`` (de)."""
    return format_decimal(value or 0, locale=locale or current_locale())


@cache
def _percent_pattern(locale: str) -> str:
    pattern = Locale.parse(locale).percent_formats[None].pattern
    return re.sub(r"0(?=[^0]*$)", "0.0", pattern, count=1)  # one decimal


def cancellations(count: int | None) -> str:
    """``1 cancellation``, ``1.204 Kündigungen`` (de): the count and its word in the reader's
    language and plural form."""
    return ngettext(
        "%(count)s cancellation", "%(count)s cancellations", count or 0, count=number(count)
    )


def saves(count: int | None) -> str:
    """``1 save``, ``12 saves``, ``12 gehaltene Kunden`` (de)."""
    # ``count``, not Flask-Babel's ``num``: the number with the reader's separators.
    return ngettext("%(count)s save", "%(count)s saves", count or 0, count=number(count))


def percent(share: float | None, locale: str | None = None) -> str:
    """A share (0-1) as ``12.5%`` (en), ``12,5 %`` (de), with one decimal."""
    locale = locale or current_locale()
    return format_percent(share or 0, _percent_pattern(locale), locale=locale)


def change(value: float | None, good: str = "up", locale: str | None = None) -> Markup:
    """A relative change in words and colour: ``up 12.5%`` / ``down 3.0%`` / ``no change``,
    in a span whose class says whether that is good or bad news (``good``: "up" or "down");
    ``no earlier data`` when there was nothing to compare with."""
    if value is None:
        return Markup('<span class="change none">{}</span>').format(gettext("no earlier data"))
    if round(value, 3) == 0:
        return Markup('<span class="change flat">{}</span>').format(gettext("no change"))
    direction = "up" if value > 0 else "down"
    mood = "good" if direction == good else "bad"
    arrow = "▲" if direction == "up" else "▼"
    shown = percent(abs(value), locale)
    text = (
        gettext("up %(percent)s", percent=shown)
        if direction == "up"
        else gettext("down %(percent)s", percent=shown)
    )
    return Markup('<span class="change {}"><span aria-hidden="true">{} </span>{}</span>').format(
        mood, arrow, text
    )


def month_label(month: str, locale: str | None = None) -> str:
    """``"2026-10"`` → ``"Oct 2026"`` (en), ``"Okt. 2026"`` (de)."""
    year, number_ = (int(part) for part in month.split("-"))
    return format_date(date(year, number_, 1), "MMM y", locale=locale or current_locale())


def day(value: date, locale: str | None = None) -> str:
    """An unambiguous date: ``Oct 26, 2026`` (en), ``26.10.2026`` (de)."""
    return format_date(value, "medium", locale=locale or current_locale())
