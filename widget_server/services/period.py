"""What the figures are about: a period of UTC days and a filter (period, plan, one custom
attribute value), read once from what the admin, the data API and the CLI were given.

Each door presents :class:`InvalidPeriod` its own way (the admin's form message, the API's
error envelope, a CLI error); the rules and the messages live here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from widget_server.errors import ValidationError
from widget_server.i18n import N_

FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)
# The range menus' choices: the last N days up to today.
PRESETS = {"7d": 7, "30d": 30, "90d": 90, "180d": 180, "12m": 365}
DEFAULT_DAYS = 30
# What a reader is told (each door adds its own framing).
NOT_A_DATE = "Dates must look like 2026-01-31"
REVERSED = N_("The start date is after the end date")
OUTSIDE = N_("Dates must be between 1970 and 2999")


class InvalidPeriod(ValidationError):
    """A period that cannot be read. ``field`` is the date at fault (``start`` or ``end``),
    ``problem`` what is wrong: ``format`` (not a date), ``order`` (the start is after the
    end) or ``range`` (outside 1970-2999)."""

    code = "invalid_period"

    def __init__(self, message: str, *, field: str, problem: str):
        super().__init__(message)
        self.field, self.problem = field, problem


@dataclass(frozen=True)
class Period:
    """An inclusive range of calendar days in UTC."""

    start: date
    end: date

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        lower = datetime.combine(self.start, time.min, tzinfo=UTC)
        upper = datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)
        return lower, upper

    @classmethod
    def checked(cls, start: date, end: date) -> Period:
        """A period from user input.

        :raises InvalidPeriod: when reversed or outside 1970-2999.
        """
        if start > end:
            raise InvalidPeriod(REVERSED, field="start", problem="order")
        if start < FIRST_DAY:
            raise InvalidPeriod(OUTSIDE, field="start", problem="range")
        if end > LAST_DAY:
            raise InvalidPeriod(OUTSIDE, field="end", problem="range")
        return cls(start, end)

    @classmethod
    def parse(
        cls,
        start: date | str | None,
        end: date | str | None,
        *,
        today: date,
        preset: str | None = None,
        days: int = DEFAULT_DAYS,
    ) -> Period:
        """The period a reader asked for: a ``preset`` of :data:`PRESETS` (the last N days up
        to ``today``), else ``start`` to ``end`` (dates, or ISO strings such as
        ``2026-01-31``). ``end`` defaults to ``today``, ``start`` to ``days`` days up to ``end``.

        :raises InvalidPeriod: a date that is not a date, a reversed period, or one outside
            1970-2999.
        """
        if preset in PRESETS:
            return cls.last_days(PRESETS[preset], today)
        end, start = _day(end, "end"), _day(start, "start")
        if end is None:
            end = today
        elif not FIRST_DAY <= end <= LAST_DAY:  # in range before any arithmetic
            raise InvalidPeriod(OUTSIDE, field="end", problem="range")
        if start is None:
            start = max(FIRST_DAY, end - timedelta(days=days - 1))
        return cls.checked(start, end)

    @classmethod
    def last_days(cls, days: int, today: date | None = None) -> Period:
        today = today or datetime.now(UTC).date()
        return cls(today - timedelta(days=days - 1), today)


def _day(value: date | str | None, field: str) -> date | None:
    if not value or isinstance(value, date):
        return value or None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidPeriod(
            N_("Dates must look like 2026-01-31"), field=field, problem="format"
        ) from None


@dataclass(frozen=True)
class Filter:
    """What the numbers are about: a date range (by completion), optionally a plan and one
    custom attribute value."""

    period: Period
    plan: str | None = None
    attribute: str | None = None
    value: str | None = None

    @classmethod
    def parse(
        cls, period: Period, *, plan: str | None = None, segment: str | None = None
    ) -> Filter:
        """A filter from what a reader gave: ``segment`` is ``attribute=value`` (anything
        else filters on no attribute); an empty plan is no plan."""
        attribute, value = None, None
        if segment and "=" in segment:
            attribute, value = segment.split("=", 1)
        return cls(period, plan or None, attribute or None, value)

    def previous(self) -> Filter:
        days = (self.period.end - self.period.start).days + 1
        end = self.period.start - timedelta(days=1)
        return Filter(Period(end - timedelta(days=days - 1), end), self.plan, self.attribute,
                      self.value)  # fmt: skip
