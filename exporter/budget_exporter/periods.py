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
    seconds = 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        seconds += int(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    if position != len(text):
        raise ValueError(
            f"invalid duration {text!r}: expected a number and a unit (ms, s, m, h, d, w, y), "
            "for example 90s, 1h30m or 30d"
        )
    return timedelta(seconds=seconds)


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

    @property
    def nominal_days(self) -> float:
        """Average length in days, used to compare budgets of different periods."""
        return {
            PeriodKind.DAILY: 1.0,
            PeriodKind.WEEKLY: 7.0,
            PeriodKind.MONTHLY: 365.2425 / 12,
            PeriodKind.QUARTERLY: 365.2425 / 4,
            PeriodKind.YEARLY: 365.2425,
        }[self]


@dataclass(frozen=True)
class Period:
    """One budget period: ``[start, end)`` as aware datetimes in the budget's time zone."""

    kind: PeriodKind
    start: datetime
    end: datetime

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
        return period_containing(self.kind, self.end, self.end.tzinfo)  # type: ignore[arg-type]


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    # Building the wall-clock time and normalising through UTC resolves days that begin in a
    # DST gap (a few zones change at midnight) to the first instant that exists.
    naive = datetime(day.year, day.month, day.day)
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(ZoneInfo("UTC")).astimezone(zone)


def _first_day(kind: PeriodKind, day: date) -> date:
    if kind is PeriodKind.DAILY:
        return day
    if kind is PeriodKind.WEEKLY:
        return day - timedelta(days=day.weekday())
    if kind is PeriodKind.MONTHLY:
        return day.replace(day=1)
    if kind is PeriodKind.QUARTERLY:
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def _next_first_day(kind: PeriodKind, first: date) -> date:
    if kind is PeriodKind.DAILY:
        return first + timedelta(days=1)
    if kind is PeriodKind.WEEKLY:
        return first + timedelta(days=7)
    months = {PeriodKind.MONTHLY: 1, PeriodKind.QUARTERLY: 3, PeriodKind.YEARLY: 12}[kind]
    month_index = first.year * 12 + first.month - 1 + months
    return date(month_index // 12, month_index % 12 + 1, 1)


def period_containing(kind: PeriodKind, moment: datetime, zone: ZoneInfo) -> Period:
    """The period of ``kind`` that contains ``moment`` (weeks start on Monday)."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    local_day = moment.astimezone(zone).date()
    first = _first_day(kind, local_day)
    return Period(
        kind=kind,
        start=_local_midnight(first, zone),
        end=_local_midnight(_next_first_day(kind, first), zone),
    )
