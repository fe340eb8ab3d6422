"""Template helpers for amounts and dates."""

from __future__ import annotations

ZERO_DECIMAL = {"JPY", "KRW", "VND", "CLP", "ISK", "HUF", "TWD", "UGX", "XAF", "XOF"}


def money(amount: int | None, currency: str) -> str:
    """Format minor units, e.g. ``money(123450, "USD") == "1,234.50 USD"``."""
    amount = amount or 0
    if currency in ZERO_DECIMAL:
        return f"{amount:,} {currency}"
    return f"{amount / 100:,.2f} {currency}"


def percent(share: float) -> str:
    return f"{share * 100:.1f}%"
