"""Budget periods on calendar boundaries: month, quarter and year ends, weeks, leap days, DST."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from budget_exporter.model.periods import PeriodKind, period_containing

UTC_ZONE = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
HOUR = 3600
DAY = 86400


def utc(*parts: int) -> datetime:
    """A UTC moment from year, month, day[, hour, minute, second]."""
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "zone", "moment", "start", "end", "length"),
    [
        (
            PeriodKind.MONTHLY,
            UTC_ZONE,
            utc(2024, 2, 15, 12),
            utc(2024, 2, 1),
            utc(2024, 3, 1),
            29 * DAY,
        ),
        (
            PeriodKind.MONTHLY,
            UTC_ZONE,
            utc(2023, 2, 28, 23, 59, 59),
            utc(2023, 2, 1),
            utc(2023, 3, 1),
            28 * DAY,
        ),
        (
            PeriodKind.MONTHLY,
            UTC_ZONE,
            utc(2100, 2, 10),
            utc(2100, 2, 1),
            utc(2100, 3, 1),
            28 * DAY,
        ),
        (
            PeriodKind.MONTHLY,
            UTC_ZONE,
            utc(2024, 12, 31, 23),
            utc(2024, 12, 1),
            utc(2025, 1, 1),
            31 * DAY,
        ),
        (
            PeriodKind.MONTHLY,
            UTC_ZONE,
            utc(2024, 4, 30, 12),
            utc(2024, 4, 1),
            utc(2024, 5, 1),
            30 * DAY,
        ),
        (
            PeriodKind.QUARTERLY,
            UTC_ZONE,
            utc(2024, 11, 15),
            utc(2024, 10, 1),
            utc(2025, 1, 1),
            92 * DAY,
        ),
        (
            PeriodKind.QUARTERLY,
            UTC_ZONE,
            utc(2024, 3, 31, 23, 59, 59),
            utc(2024, 1, 1),
            utc(2024, 4, 1),
            91 * DAY,
        ),
        (
            PeriodKind.QUARTERLY,
            UTC_ZONE,
            utc(2023, 2, 1),
            utc(2023, 1, 1),
            utc(2023, 4, 1),
            90 * DAY,
        ),
        (
            PeriodKind.QUARTERLY,
            UTC_ZONE,
            utc(2024, 6, 30),
            utc(2024, 4, 1),
            utc(2024, 7, 1),
            91 * DAY,
        ),
        (
            PeriodKind.YEARLY,
            UTC_ZONE,
            utc(2024, 6, 1),
            utc(2024, 1, 1),
            utc(2025, 1, 1),
            366 * DAY,
        ),
        (
            PeriodKind.YEARLY,
            UTC_ZONE,
            utc(2100, 6, 1),
            utc(2100, 1, 1),
            utc(2101, 1, 1),
            365 * DAY,
        ),
        (
            PeriodKind.YEARLY,
            UTC_ZONE,
            utc(2000, 2, 29),
            utc(2000, 1, 1),
            utc(2001, 1, 1),
            366 * DAY,
        ),
        (
            PeriodKind.DAILY,
            UTC_ZONE,
            utc(2024, 2, 29, 18),
            utc(2024, 2, 29),
            utc(2024, 3, 1),
            DAY,
        ),
        (
            PeriodKind.WEEKLY,
            UTC_ZONE,
            utc(2024, 9, 20, 12),
            utc(2024, 9, 16),
            utc(2024, 9, 23),
            7 * DAY,
        ),
        (
            PeriodKind.WEEKLY,
            UTC_ZONE,
            utc(2024, 9, 22, 23, 59, 59),
            utc(2024, 9, 16),
            utc(2024, 9, 23),
            7 * DAY,
        ),
        (
            PeriodKind.WEEKLY,
            UTC_ZONE,
            utc(2025, 1, 1),
            utc(2024, 12, 30),
            utc(2025, 1, 6),
            7 * DAY,
        ),
        (
            PeriodKind.WEEKLY,
            UTC_ZONE,
            utc(2024, 2, 29),
            utc(2024, 2, 26),
            utc(2024, 3, 4),
            7 * DAY,
        ),
    ],
    ids=[
        "February of a leap year has 29 days",
        "February of a common year has 28 days",
        "2100 is not a leap year",
        "December ends at the new year",
        "April has 30 days",
        "the fourth quarter runs October to December",
        "the first quarter of a leap year has 91 days",
        "the first quarter of a common year has 90 days",
        "the second quarter ends on the last day of June",
        "a leap year has 366 days",
        "2100 has 365 days",
        "2000 is a leap year because it divides by 400",
        "the leap day is a day of its own",
        "a Friday belongs to the week that began on Monday",
        "Sunday night is still the same week",
        "a week that spans the new year starts in December",
        "the week of the leap day starts on Monday 26 February",
    ],
)
def test_period_containing_aligns_to_the_calendar(kind, zone, moment, start, end, length):
    period = period_containing(kind, moment, zone)
    assert (period.start, period.end) == (start, end)
    assert period.length_seconds == length
    assert period.start.weekday() == 0 or kind is not PeriodKind.WEEKLY


@pytest.mark.parametrize(
    ("kind", "zone", "moment", "start_utc", "end_utc", "hours"),
    [
        (
            PeriodKind.DAILY,
            PARIS,
            utc(2024, 3, 31, 12),
            utc(2024, 3, 30, 23),
            utc(2024, 3, 31, 22),
            23,
        ),
        (
            PeriodKind.DAILY,
            PARIS,
            utc(2024, 10, 27, 12),
            utc(2024, 10, 26, 22),
            utc(2024, 10, 27, 23),
            25,
        ),
        (
            PeriodKind.MONTHLY,
            PARIS,
            utc(2024, 3, 15),
            utc(2024, 2, 29, 23),
            utc(2024, 3, 31, 22),
            31 * 24 - 1,
        ),
        (
            PeriodKind.MONTHLY,
            PARIS,
            utc(2024, 10, 15),
            utc(2024, 9, 30, 22),
            utc(2024, 10, 31, 23),
            31 * 24 + 1,
        ),
        (
            PeriodKind.WEEKLY,
            PARIS,
            utc(2024, 3, 28),
            utc(2024, 3, 24, 23),
            utc(2024, 3, 31, 22),
            7 * 24 - 1,
        ),
        (
            PeriodKind.YEARLY,
            PARIS,
            utc(2024, 7, 1),
            utc(2023, 12, 31, 23),
            utc(2024, 12, 31, 23),
            366 * 24,
        ),
        (
            PeriodKind.DAILY,
            NEW_YORK,
            utc(2024, 3, 10, 12),
            utc(2024, 3, 10, 5),
            utc(2024, 3, 11, 4),
            23,
        ),
        (
            PeriodKind.DAILY,
            NEW_YORK,
            utc(2024, 11, 3, 12),
            utc(2024, 11, 3, 4),
            utc(2024, 11, 4, 5),
            25,
        ),
        (
            PeriodKind.MONTHLY,
            NEW_YORK,
            utc(2024, 11, 1, 3),
            utc(2024, 10, 1, 4),
            utc(2024, 11, 1, 4),
            31 * 24,
        ),
        (
            PeriodKind.DAILY,
            SAO_PAULO,
            utc(2018, 11, 4, 12),
            utc(2018, 11, 4, 3),
            utc(2018, 11, 5, 2),
            23,
        ),
    ],
    ids=[
        "the Paris day that changes to summer time has 23 hours",
        "the Paris day that changes to winter time has 25 hours",
        "March in Paris is one hour short",
        "October in Paris is one hour long",
        "the Paris week ending with the change to summer time has 167 hours",
        "a Paris year starts at 23:00 UTC the day before",
        "the New York day that changes to summer time has 23 hours",
        "the New York day that changes to winter time has 25 hours",
        "23:00 in New York on 31 October is still October",
        "a day whose midnight does not exist starts at 01:00 local time",
    ],
)
def test_period_containing_follows_daylight_saving_time(
    kind, zone, moment, start_utc, end_utc, hours
):
    period = period_containing(kind, moment, zone)
    assert period.start == start_utc
    assert period.end == end_utc
    assert period.length_seconds == hours * HOUR
    assert period.start.tzinfo == zone


@pytest.mark.parametrize(
    ("kind", "zone", "moment", "start"),
    [
        (PeriodKind.MONTHLY, UTC_ZONE, utc(2024, 9, 1), utc(2024, 9, 1)),
        (PeriodKind.MONTHLY, UTC_ZONE, utc(2024, 9, 30, 23, 59, 59), utc(2024, 9, 1)),
        (PeriodKind.MONTHLY, UTC_ZONE, utc(2024, 10, 1), utc(2024, 10, 1)),
        (PeriodKind.MONTHLY, PARIS, utc(2024, 9, 30, 22), utc(2024, 9, 30, 22)),
        (PeriodKind.MONTHLY, PARIS, utc(2024, 9, 30, 21, 59, 59), utc(2024, 8, 31, 22)),
        (PeriodKind.QUARTERLY, PARIS, utc(2024, 12, 31, 23), utc(2024, 12, 31, 23)),
        (PeriodKind.WEEKLY, UTC_ZONE, utc(2024, 9, 23), utc(2024, 9, 23)),
        (PeriodKind.DAILY, NEW_YORK, utc(2024, 9, 20, 3, 59), utc(2024, 9, 19, 4)),
    ],
    ids=[
        "the first instant of a month belongs to that month",
        "the last second of a month belongs to that month",
        "the end of a month is the start of the next",
        "midnight in Paris is 22:00 UTC in summer",
        "a second before Paris midnight is still the month before",
        "the Paris new year quarter starts at 23:00 UTC",
        "Monday midnight starts a new week",
        "before 04:00 UTC it is still yesterday in New York",
    ],
)
def test_period_containing_at_exact_boundaries(kind, zone, moment, start):
    period = period_containing(kind, moment, zone)
    assert period.start == start
    assert period.start <= moment < period.end


def test_period_following_starts_where_the_period_ends():
    january = period_containing(PeriodKind.MONTHLY, utc(2024, 1, 20), UTC_ZONE)
    february = january.following()
    assert (february.start, february.end) == (utc(2024, 2, 1), utc(2024, 3, 1))
    assert february.following().length_seconds == 31 * DAY


def test_period_containing_refuses_a_naive_moment():
    with pytest.raises(ValueError, match="timezone-aware"):
        period_containing(PeriodKind.DAILY, datetime(2024, 9, 20), UTC_ZONE)


@pytest.mark.parametrize(
    ("kind", "zone", "moment", "ratio"),
    [
        (PeriodKind.MONTHLY, UTC_ZONE, utc(2024, 9, 1), 0.0),
        (PeriodKind.MONTHLY, UTC_ZONE, utc(2024, 9, 16), 0.5),
        (PeriodKind.MONTHLY, UTC_ZONE, utc(2024, 9, 20, 12), 19.5 / 30),
        (PeriodKind.DAILY, PARIS, utc(2024, 3, 31, 10), 11 / 23),
        (PeriodKind.DAILY, PARIS, utc(2024, 10, 27, 11), 13 / 25),
        (PeriodKind.YEARLY, UTC_ZONE, utc(2024, 3, 1), 60 / 366),
        (PeriodKind.WEEKLY, UTC_ZONE, utc(2024, 9, 19, 12), 3.5 / 7),
    ],
    ids=[
        "nothing has elapsed at the start",
        "half of September has elapsed on the 16th",
        "19.5 of 30 days have elapsed at noon on the 20th",
        "noon on the short Paris day is 11 of 23 hours in",
        "noon on the long Paris day is 13 of 25 hours in",
        "1 March of a leap year is 60 of 366 days in",
        "Thursday noon is half of the week",
    ],
)
def test_elapsed_ratio_is_the_share_of_real_time_passed(kind, zone, moment, ratio):
    assert period_containing(kind, moment, zone).elapsed_ratio(moment) == pytest.approx(ratio)


@pytest.mark.parametrize(
    ("moment", "ratio"),
    [
        (utc(2024, 8, 15), 0.0),
        (utc(2024, 10, 2), 1.0),
    ],
    ids=["a moment before the period counts as 0", "a moment after the period counts as 1"],
)
def test_elapsed_ratio_is_clamped_to_the_period(moment, ratio):
    september = period_containing(PeriodKind.MONTHLY, utc(2024, 9, 10), UTC_ZONE)
    assert september.elapsed_ratio(moment) == ratio


@pytest.mark.parametrize(
    ("kind", "days"),
    [
        (PeriodKind.DAILY, 1.0),
        (PeriodKind.WEEKLY, 7.0),
        (PeriodKind.MONTHLY, 30.436875),
        (PeriodKind.QUARTERLY, 91.310625),
        (PeriodKind.YEARLY, 365.2425),
    ],
    ids=[
        "a day is one day",
        "a week is seven days",
        "a month is a twelfth of a Gregorian year",
        "a quarter is a fourth of a Gregorian year",
        "a year is the Gregorian average",
    ],
)
def test_nominal_days_are_gregorian_averages(kind, days):
    assert kind.nominal_days == pytest.approx(days)


def test_periods_in_a_row_tile_time_without_gaps():
    # Walk a year of Paris days across both DST changes: every day starts where the last ended.
    period = period_containing(PeriodKind.DAILY, utc(2024, 1, 1, 12), PARIS)
    total = timedelta(0)
    for _ in range(366):
        following = period.following()
        assert following.start == period.end
        total += period.end - period.start
        period = following
    assert total == timedelta(days=366)
