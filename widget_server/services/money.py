"""Amounts in the site's currency: exchange rates maintained by the site's admins.

The figures build on this module (rollups' MRR bands, metrics' lost MRR), never the other way:
a changed rate reaches the rollups as a queued job (``rebuild_mrr_bands``), not an import."""

from __future__ import annotations

from decimal import ROUND_HALF_UP
from functools import cache

import sqlalchemy as sa
from babel.numbers import get_currency_precision, list_currencies

from widget_server.errors import ValidationError
from widget_server.extensions import db
from widget_server.i18n import N_
from widget_server.models import Customer, ExchangeRate, Site, utcnow
from widget_server.services import jobs

# The largest amount Keepkit stores, in minor units (10^12 cents is ten billion a month):
# sums of many such amounts still fit the 64-bit rollup columns.
MAX_AMOUNT = 10**12


@cache
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def is_currency(code) -> bool:
    """Whether ``code`` is an ISO 4217 currency code (Babel's list, from CLDR), e.g. ``EUR``."""
    return isinstance(code, str) and code in _currencies()


def minor_digits(currency: str) -> int:
    """How many digits the minor unit of ``currency`` has (Babel's CLDR data): JPY 0,
    USD 2, KWD 3. Amounts are stored in minor units of their currency."""
    return get_currency_precision(currency)


def to_minor(amount_major, currency: str) -> int:
    """``Decimal("49.5")`` USD → 4950; JPY → 50 (rounded half up to the currency's digits)."""
    return int((amount_major * 10 ** minor_digits(currency)).to_integral_value(ROUND_HALF_UP))


def converted(site: Site, amount, currency):
    """SQL: ``amount`` (minor units in ``currency``) in the site's currency, or NULL when no
    rate is set. The rate is looked up only for rows in another currency (CASE short-circuits),
    so single-currency sites pay nothing for it."""
    rate = (
        sa.select(ExchangeRate.rate)
        .where(ExchangeRate.site_id == site.id, ExchangeRate.currency == currency)
        .scalar_subquery()
    )
    return sa.case((currency == site.currency, amount), else_=sa.func.round(amount * rate))


def rates(site: Site) -> list[ExchangeRate]:
    query = sa.select(ExchangeRate).where(ExchangeRate.site_id == site.id)
    return list(db.session.scalars(query.order_by(ExchangeRate.currency)))


def currencies_without_rate(site: Site) -> list[str]:
    """Currencies the site's customers pay in that have no rate yet."""
    have = sa.select(ExchangeRate.currency).where(ExchangeRate.site_id == site.id)
    query = (
        sa.select(Customer.currency)
        .where(
            Customer.site_id == site.id,
            Customer.currency != site.currency,
            Customer.currency.not_in(have),
        )
        .distinct()
        .order_by(Customer.currency)
    )
    return list(db.session.scalars(query))


def set_rate(site: Site, currency: str, rate, *, requested_by: str = "Keepkit") -> ExchangeRate:
    """Create or update the rate for ``currency`` (units of the site's currency per unit).

    :raises ValidationError: ``invalid_rate``.
    """
    currency = (currency or "").strip().upper()
    try:
        value = float(str(rate).replace(",", "."))
    except ValueError:
        value = -1.0
    if not is_currency(currency) or currency == site.currency:
        raise ValidationError(
            N_("Use an ISO 4217 code other than %(currency)s, e.g. EUR"),
            code="invalid_rate",
            params={"currency": site.currency},
        )
    if not 0 < value < 1_000_000:
        raise ValidationError(
            N_("The rate must be a positive number such as 1.08"), code="invalid_rate"
        )
    row = db.session.scalar(
        sa.select(ExchangeRate).where(
            ExchangeRate.site_id == site.id, ExchangeRate.currency == currency
        )
    )
    if row is None:
        row = ExchangeRate(site_id=site.id, currency=currency)
        db.session.add(row)
    row.rate, row.updated_at = value, utcnow()
    db.session.flush()
    _rates_changed(site, currency, requested_by)
    return row


def remove_rate(site: Site, currency: str, *, requested_by: str = "Keepkit") -> None:
    db.session.execute(
        sa.delete(ExchangeRate).where(
            ExchangeRate.site_id == site.id, ExchangeRate.currency == currency
        )
    )
    _rates_changed(site, currency, requested_by)


def _rates_changed(site: Site, currency: str, requested_by: str) -> None:
    """The MRR bands of sessions in ``currency`` are amounts in the site's currency: the
    worker recomputes them (a job; the dashboard says figures are being recalculated)."""
    jobs.enqueue(site, "rebuild_mrr_bands", {"currency": currency}, requested_by=requested_by)
