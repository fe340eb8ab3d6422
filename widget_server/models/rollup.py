"""Daily and monthly rollups of completed cancellation sessions, for the dashboard and reports.

Derived data: ``services.rollups`` adds each session when it is completed (in the same
transaction) and rebuilds a site's rows from the sessions after bulk loads. ``grain`` is
``day`` (``bucket`` is the UTC day of completion) or ``month`` (``bucket`` is the month's
first day). Every session is counted once in each grain under ``attribute = ''``, and once
more under each custom attribute its token carried, so a filter on an attribute value reads
rollups too. Missing values are stored as ``''`` or ``0`` because the primary key is the upsert
target and NULLs never conflict.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from widget_server.models.base import Base

GRAINS = ("day", "month")


class _Rollup:
    # First in the primary key, so a site's buckets in a date range are one index range.
    site_id: Mapped[int] = mapped_column(
        sa.ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True, sort_order=-40
    )
    # ``''`` and ``''``: every session. Otherwise one custom attribute and its value as text
    # (booleans as true/false, cut at 64 characters): the sessions that carry it.
    attribute: Mapped[str] = mapped_column(sa.String(64), primary_key=True, sort_order=-35)
    grain: Mapped[str] = mapped_column(sa.String(5), primary_key=True, sort_order=-30)
    bucket: Mapped[date] = mapped_column(primary_key=True, sort_order=-20)
    value: Mapped[str] = mapped_column(sa.String(64), primary_key=True, sort_order=-15)
    plan: Mapped[str] = mapped_column(sa.String(100), primary_key=True, sort_order=-10)
    sessions: Mapped[int] = mapped_column(sa.BigInteger)


class ReasonRollup(_Rollup, Base):
    """Sessions and MRR (minor units of ``currency``) by reason, outcome and accepted offer."""

    __tablename__ = "rollup_reasons"

    reason_id: Mapped[int] = mapped_column(primary_key=True)  # 0: no reason given
    outcome: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    offer_id: Mapped[int] = mapped_column(primary_key=True)  # 0: no offer accepted
    currency: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    mrr: Mapped[int] = mapped_column(sa.BigInteger)


class SegmentRollup(_Rollup, Base):
    """Sessions and MRR by tenure band and MRR band (in the site's currency at the rate in
    force when the row was built; changing a rate rebuilds that currency's rows)."""

    __tablename__ = "rollup_segments"

    tenure: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    mrr_band: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    outcome: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    currency: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    mrr: Mapped[int] = mapped_column(sa.BigInteger)


class RollupPending(Base):
    """A completed session not yet counted in the rollups. Completing a session only appends
    one of these (no shared row is touched, so completions never wait for each other); the
    worker, or a reader that wants current figures, folds them in (``rollups.fold_pending``)."""

    __tablename__ = "rollup_pending"

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
    )
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cancellation_sessions.id", ondelete="CASCADE"), unique=True
    )


class OfferShownRollup(_Rollup, Base):
    """How many completed sessions showed each offer (by key, as ``offers_shown`` holds it)."""

    __tablename__ = "rollup_offers_shown"

    offer_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
