"""Budget periods and durations, aligned to calendar boundaries in a configured time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

_DURATION_UNITS = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "y": 365 * 86400,
}
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


def parse_duration(text: str) -> timedelta:
    """Parse a Prometheus-style duration such as ``90s``, ``1h30m`` or ``30d``."""
    text = text.strip()
    if not text:
        raise ValueError("empty duration")
    position = 0
    milliseconds = 0  # whole numbers: summing float seconds drifts on long durations
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        milliseconds += int(match.group(1)) * round(_DURATION_UNITS[match.group(2)] * 1000)
        position = match.end()
    if position != len(text):
        raise ValueError(
            f"invalid duration {text!r}: expected a number and a unit (ms, s, m, h, d, w, y), "
            "for example 90s, 1h30m or 30d"
        )
    try:
        return timedelta(milliseconds=milliseconds)
    except OverflowError:
        raise ValueError(f"duration {text!r} is too long") from None


def format_duration(value: timedelta) -> str:
    """Render a duration the way Prometheus does (``1d``, ``7d``, ``1h30m``)."""
    # Counted in milliseconds, the smallest unit parse_duration reads, so "1500ms" round-trips.
    milliseconds = round(value.total_seconds() * 1000)
    if milliseconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, milliseconds = divmod(milliseconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


class PeriodKind(StrEnum):
    """How often a budget resets."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"
    CUSTOM = "custom"  # one fixed span of dates, given by a Calendar's start and end

    @property
    def nominal_days(self) -> float:
        """Average length in days, used to compare budgets of different periods."""
        return {
            PeriodKind.DAILY: 1.0,
            PeriodKind.WEEKLY: 7.0,
            PeriodKind.MONTHLY: 365.2425 / 12,
            PeriodKind.QUARTERLY: 365.2425 / 4,
            PeriodKind.YEARLY: 365.2425,
            # Custom spans are at most MAX_CUSTOM_DAYS long: the upper bound sizes forecasts;
            # comparisons between budgets use a custom budget's real length.
            PeriodKind.CUSTOM: float(MAX_CUSTOM_DAYS),
        }[self]


MAX_CUSTOM_DAYS = 366
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Calendar:
    """Where periods begin: the first month of the (fiscal) year, the first day of the week,
    or the fixed dates of a custom period.

    Quarters follow the year: with a fiscal year starting in April, Q1 is April to June.
    """

    year_start_month: int = 1
    week_start: int = 0  # 0 = Monday, 6 = Sunday
    start: date | None = None  # custom periods: the first day
    end: date | None = None  # custom periods: the day after the last

    def __post_init__(self) -> None:
        if not 1 <= self.year_start_month <= 12:
            raise ValueError(f"year_start_month {self.year_start_month} is not a month (1-12)")
        if not 0 <= self.week_start <= 6:
            raise ValueError(f"week_start {self.week_start} is not a weekday (0-6)")
        if (self.start is None) != (self.end is None):
            raise ValueError("a custom period needs both start and end")
        if self.start is not None and self.end is not None:
            days = (self.end - self.start).days
            if not 1 <= days <= MAX_CUSTOM_DAYS:
                raise ValueError(
                    f"a custom period lasts 1 to {MAX_CUSTOM_DAYS} days; "
                    f"{self.start} to {self.end} is {days}"
                )


DEFAULT_CALENDAR = Calendar()


@dataclass(frozen=True)
class Period:
    """One budget period: ``[start, end)`` as aware datetimes in the budget's time zone."""

    kind: PeriodKind
    start: datetime
    end: datetime
    calendar: Calendar = DEFAULT_CALENDAR

    @property
    def length_seconds(self) -> float:
        """Real length in seconds (a day that changes to summer time has 23 hours)."""
        # Subtracting datetimes that share a tzinfo gives wall-clock time, blind to DST.
        return self.end.timestamp() - self.start.timestamp()

    def elapsed_seconds(self, now: datetime) -> float:
        """Seconds of this period that lie before ``now``, clamped to the period."""
        return min(max(now.timestamp() - self.start.timestamp(), 0.0), self.length_seconds)

    def elapsed_ratio(self, now: datetime) -> float:
        """Share of the period that has passed at ``now``, between 0 and 1."""
        return self.elapsed_seconds(now) / self.length_seconds

    def following(self) -> Period:
        """The period right after this one."""
        if self.kind is PeriodKind.CUSTOM:
            raise ValueError("a custom period has no following period")
        return period_containing(self.kind, self.end, self.end.tzinfo, self.calendar)  # type: ignore[arg-type]

    def preceding(self) -> Period | None:
        """The period right before this one; None for a custom period."""
        if self.kind is PeriodKind.CUSTOM:
            return None
        before = datetime.fromtimestamp(self.start.timestamp() - 1, tz=self.start.tzinfo)
        return period_containing(self.kind, before, self.start.tzinfo, self.calendar)  # type: ignore[arg-type]

    @property
    def key(self) -> str:
        """The name of this period in planned amounts: ``2026-01`` for the month (or quarter,
        or year) that starts in January 2026, ``2026-01-05`` for a day, week or custom span."""
        first = self.start.date()
        if self.kind in (PeriodKind.MONTHLY, PeriodKind.QUARTERLY, PeriodKind.YEARLY):
            return f"{first.year:04d}-{first.month:02d}"
        return first.isoformat()


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    # Building the wall-clock time and normalising through UTC resolves days that begin in a
    # DST gap (a few zones change at midnight) to the first instant that exists.
    naive = datetime(day.year, day.month, day.day)
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(ZoneInfo("UTC")).astimezone(zone)


def _first_day(kind: PeriodKind, day: date, calendar: Calendar = DEFAULT_CALENDAR) -> date:
    if kind is PeriodKind.DAILY:
        return day
    if kind is PeriodKind.WEEKLY:
        return day - timedelta(days=(day.weekday() - calendar.week_start) % 7)
    if kind is PeriodKind.MONTHLY:
        return day.replace(day=1)
    # Months since the (fiscal) year began, rounded down to the quarter or the year.
    months = {PeriodKind.QUARTERLY: 3, PeriodKind.YEARLY: 12}[kind]
    since = (day.month - calendar.year_start_month) % 12
    month_index = day.year * 12 + day.month - 1 - since % months
    return date(month_index // 12, month_index % 12 + 1, 1)


def _next_first_day(kind: PeriodKind, first: date) -> date:
    if kind is PeriodKind.DAILY:
        return first + timedelta(days=1)
    if kind is PeriodKind.WEEKLY:
        return first + timedelta(days=7)
    months = {PeriodKind.MONTHLY: 1, PeriodKind.QUARTERLY: 3, PeriodKind.YEARLY: 12}[kind]
    month_index = first.year * 12 + first.month - 1 + months
    return date(month_index // 12, month_index % 12 + 1, 1)


def period_containing(
    kind: PeriodKind, moment: datetime, zone: ZoneInfo, calendar: Calendar = DEFAULT_CALENDAR
) -> Period:
    """The period of ``kind`` that contains ``moment``.

    By default weeks start on Monday and years in January; ``calendar`` changes both. A custom
    period is the calendar's own span, whatever the moment (before it: not started yet).
    """
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    if kind is PeriodKind.CUSTOM:
        if calendar.start is None or calendar.end is None:
            raise ValueError("a custom period needs a calendar with start and end")
        return Period(
            kind,
            _local_midnight(calendar.start, zone),
            _local_midnight(calendar.end, zone),
            calendar,
        )
    local_day = moment.astimezone(zone).date()
    first = _first_day(kind, local_day, calendar)
    return Period(
        kind=kind,
        start=_local_midnight(first, zone),
        end=_local_midnight(_next_first_day(kind, first), zone),
        calendar=calendar,
    )
