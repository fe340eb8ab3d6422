"""Template helpers for amounts and dates."""

from __future__ import annotations

ZERO_DECIMAL = {"JPY", "KRW", "VND", "CLP", "ISK", "HUF", "TWD", "UGX", "XAF", "XOF"}


def money(amount: int | None, currency: str) -> str:
    """Format minor units, e.g. ``money(123450, "USD") == "1,234.50 USD"``."""
    amount = amount or 0
    if currency in ZERO_DECIMAL:
        return f"{amount:,} {currency}"
    return f"{amount / 100:,.2f} {currency}"


def number(value: int | None) -> str:
    """A count with separators: ``12,345``."""
    return f"{value or 0:,}"


def percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def short_money(amount: float, currency: str) -> str:
    """Compact major units for chart axes: ``"950 USD"``, ``"12.5k USD"``, ``"1.2M USD"``."""
    major = amount if currency in ZERO_DECIMAL else amount / 100
    for limit, suffix in ((1_000_000, "M"), (1_000, "k")):
        if abs(major) >= limit:
            return f"{major / limit:,.1f}".rstrip("0").rstrip(".") + f"{suffix} {currency}"
    return f"{major:,.0f} {currency}"


def change(value: float | None) -> str:
    """A relative change for humans: ``+12.5%``, ``-3.0%``, or ``new`` when there was none."""
    if value is None:
        return "new"
    return f"{value * 100:+.1f}%"
