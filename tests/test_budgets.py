"""Budget maths on small hand-made cost frames, with expected values worked out by hand."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from budget_exporter.model.costs import normalize
from budget_exporter.model.periods import PeriodKind, period_containing
from budget_exporter.money.budgets import (
    BudgetSpec,
    CostIndex,
    burn_rate,
    crossing_time,
    evaluate_budget,
    pace_exhaustion,
    top_n,
)

UTC_ZONE = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")
DAY = 86400.0
SEPTEMBER = period_containing(PeriodKind.MONTHLY, datetime(2024, 9, 10, tzinfo=UTC), UTC_ZONE)
NOW = datetime(2024, 9, 20, 12, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    """A UTC moment from year, month, day[, hour, minute]."""
    return datetime(*parts, tzinfo=UTC)


def row(start, end, cost, category="usage", currency="USD", **dimensions):
    """One line item of a cost frame."""
    return {
        "start": start,
        "end": end,
        "cost": cost,
        "currency": currency,
        "charge_category": category,
        **dimensions,
    }


def daily_rows(first: int, last: int, cost: float, **dimensions) -> list[dict]:
    """One row per September day from ``first`` to ``last``, each covering its whole UTC day."""
    return [
        row(utc(2024, 9, day), utc(2024, 9, day) + timedelta(days=1), cost, **dimensions)
        for day in range(first, last + 1)
    ]


def index_of(rows: list[dict]) -> CostIndex:
    """A CostIndex of the normalized frame of ``rows``."""
    return CostIndex(normalize(pd.DataFrame(rows)))


def spec(amount: float, **options) -> BudgetSpec:
    """A monthly budget called ``test``."""
    return BudgetSpec(name="test", amount=amount, period=PeriodKind.MONTHLY, **options)


# --- burn rate, exhaustion, crossing, top-N ----------------------------------------------------


@pytest.mark.parametrize(
    ("spend", "window", "limit", "period", "expected"),
    [
        (100.0, DAY, 3000.0, 30 * DAY, 1.0),
        (50.0, DAY, 3000.0, 30 * DAY, 0.5),
        (1400.0, 7 * DAY, 3000.0, 30 * DAY, 2.0),
        (0.0, DAY, 3000.0, 30 * DAY, 0.0),
        (-20.0, DAY, 3000.0, 30 * DAY, -0.2),
        (24.0, 3600.0, 720.0, 30 * DAY, 24.0),
        (100.0, 0.0, 3000.0, 30 * DAY, 0.0),
    ],
    ids=[
        "a day at the budget's pace burns at 1",
        "half the pace burns at 0.5",
        "a week at twice the pace burns at 2",
        "no spend burns at 0",
        "a credit larger than the spend burns below 0",
        "an hour of a day's budget burns at 24",
        "an empty window burns at 0",
    ],
)
def test_burn_rate_compares_the_window_pace_with_the_budget_pace(
    spend, window, limit, period, expected
):
    assert burn_rate(spend, window, limit, period) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("spend", "limit", "as_of", "expected"),
    [
        (400.0, 1000.0, utc(2024, 9, 11), utc(2024, 9, 26)),
        (500.0, 1000.0, utc(2024, 9, 6), utc(2024, 9, 11)),
        (200.0, 1000.0, utc(2024, 9, 11), None),
        (300.0, 900.0, utc(2024, 9, 11), None),
        (1000.0, 1000.0, utc(2024, 9, 11), None),
        (0.0, 1000.0, utc(2024, 9, 11), None),
        (-5.0, 1000.0, utc(2024, 9, 11), None),
        (10.0, 1000.0, utc(2024, 9, 1), None),
    ],
    ids=[
        "40 a day with 600 left lasts 15 more days",
        "100 a day with 500 left lasts 5 more days",
        "20 a day lasts past the period end",
        "reaching the limit exactly at the period end is not exhaustion",
        "an exhausted budget has no projection",
        "no spend has no projection",
        "a net credit has no projection",
        "no elapsed time has no projection",
    ],
)
def test_pace_exhaustion_extrapolates_the_period_to_date_pace(spend, limit, as_of, expected):
    assert pace_exhaustion(spend, limit, SEPTEMBER, as_of) == expected


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (250.0, utc(2024, 9, 3)),
        (300.0, utc(2024, 9, 3)),
        (100.0, utc(2024, 9, 1)),
        (1000.0, None),
    ],
    ids=[
        "the limit is crossed during the third day",
        "reaching the limit exactly counts as crossing",
        "a limit of the first day's cost is crossed on the first day",
        "a limit above the total is never crossed",
    ],
)
def test_crossing_time_is_the_charge_period_where_the_limit_was_reached(limit, expected):
    index = index_of(daily_rows(1, 5, 100.0))
    mask = np.ones(len(index), dtype=bool)
    assert crossing_time(index, mask, limit, SEPTEMBER.start, NOW) == expected


def test_crossing_time_ignores_rows_outside_the_mask():
    index = index_of(
        daily_rows(1, 5, 100.0, ServiceName="compute") + daily_rows(1, 5, 1000.0, ServiceName="ml")
    )
    mask = index.matching("ServiceName", ("compute",))
    assert crossing_time(index, mask, 250.0, SEPTEMBER.start, NOW) == utc(2024, 9, 3)
    nothing = index.matching("ServiceName", ("queue",))
    assert crossing_time(index, nothing, 0.0, SEPTEMBER.start, NOW) is None


@pytest.mark.parametrize(
    ("totals", "n", "expected"),
    [
        (
            [("a", 5.0), ("b", 3.0), ("c", 1.0), ("d", 1.5)],
            2,
            (("a", 5.0), ("b", 3.0), ("other", 2.5)),
        ),
        ([("b", 3.0), ("a", 5.0)], 5, (("a", 5.0), ("b", 3.0))),
        ([("b", 2.0), ("a", 2.0), ("c", 2.0)], 2, (("a", 2.0), ("b", 2.0), ("other", 2.0))),
        ([("other", 1.0), ("a", 5.0), ("b", 3.0)], 1, (("a", 5.0), ("other", 4.0))),
        ([], 3, ()),
    ],
    ids=[
        "the rest beyond the top two is summed into other",
        "fewer values than n are kept, largest first",
        "ties are ordered by name",
        "a value already called other merges with the rest",
        "no values give no breakdown",
    ],
)
def test_top_n_keeps_the_largest_and_sums_the_rest(totals, n, expected):
    assert top_n(totals, n) == expected


# --- share of each row in a window ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (utc(2024, 9, 1, 6), utc(2024, 9, 1, 12), [0.25, 1.0, 0.0]),
        (utc(2024, 9, 1), utc(2024, 9, 2), [1.0, 1.0, 0.0]),
        (utc(2024, 9, 1, 12), utc(2024, 9, 3), [0.5, 0.0, 1.0]),
        (utc(2024, 9, 1, 10), utc(2024, 9, 1, 11), [1 / 24, 1.0, 0.0]),
        (utc(2024, 9, 1, 11), utc(2024, 9, 1, 12), [1 / 24, 0.0, 0.0]),
        (utc(2024, 8, 1), utc(2024, 9, 1), [0.0, 0.0, 0.0]),
    ],
    ids=[
        "six hours count a quarter of a daily row and a charge within in full",
        "a whole day counts a daily row and a one-time charge in full",
        "half a day counts half, a charge before it not, the next day in full",
        "a one-time charge counts at once in the hour it starts",
        "a one-time charge counts nothing after its moment",
        "a window before every row counts nothing",
    ],
)
def test_share_in_spreads_a_row_over_its_charge_period(start, end, expected):
    index = index_of(
        [
            row(utc(2024, 9, 1), utc(2024, 9, 2), 24.0, ServiceName="a"),
            row(utc(2024, 9, 1, 10), utc(2024, 9, 1, 10), 300.0, "purchase", ServiceName="b"),
            row(utc(2024, 9, 2), utc(2024, 9, 3), 48.0, ServiceName="c"),
        ]
    )
    # normalize sorts rows by start: a (00:00), b (10:00), c (next day).
    assert list(index.share_in(start, end)) == pytest.approx(expected)


# --- evaluate_budget -----------------------------------------------------------------------------


def test_evaluate_budget_on_a_steady_spend_of_100_a_day():
    # 19 whole days at 100 plus half of the 20th: 1950 by noon on 20 September.
    index = index_of(daily_rows(1, 30, 100.0))
    status = evaluate_budget(spec(3000.0), index, NOW, UTC_ZONE, data_end=None)
    assert status.period == SEPTEMBER
    assert status.spend == pytest.approx(1950.0)
    assert status.limit == 3000.0
    assert status.remaining == pytest.approx(1050.0)
    assert status.utilization == pytest.approx(0.65)
    assert status.elapsed_ratio == pytest.approx(0.65)
    assert status.average_daily_spend == pytest.approx(100.0)
    # 100 a day against 3000 over 30 days is exactly on pace.
    assert status.burn_rates == pytest.approx({"1d": 1.0, "7d": 1.0, "period": 1.0})
    # 1050 left at 100 a day lasts until 1 October 00:00, the period end: no exhaustion.
    assert status.projected_exhaustion is None
    assert status.as_of == NOW


def test_evaluate_budget_projects_exhaustion_when_spending_too_fast():
    index = index_of(daily_rows(1, 30, 100.0))
    status = evaluate_budget(spec(2000.0), index, NOW, UTC_ZONE, data_end=None)
    assert status.remaining == pytest.approx(50.0)
    assert status.utilization == pytest.approx(0.975)
    # 2000 over 30 days is 66.67 a day; 100 a day burns at 1.5.
    assert status.burn_rates == pytest.approx({"1d": 1.5, "7d": 1.5, "period": 1.5})
    # 50 left at 100 a day lasts 12 hours.
    assert status.projected_exhaustion == utc(2024, 9, 21)


def test_evaluate_budget_reports_overspend_as_negative_remaining():
    index = index_of(daily_rows(1, 30, 100.0))
    status = evaluate_budget(spec(1500.0), index, NOW, UTC_ZONE, data_end=None)
    assert status.remaining == pytest.approx(-450.0)
    assert status.utilization == pytest.approx(1.3)
    # The 15th day brought cumulative spend to 1500: exhausted during that day.
    assert status.projected_exhaustion == utc(2024, 9, 15)


def test_evaluate_budget_windows_end_at_the_newest_data():
    # Data only through 18 September: burn windows end at 19 September 00:00, not at now.
    index = index_of(daily_rows(1, 18, 100.0))
    late = evaluate_budget(spec(3000.0), index, NOW, UTC_ZONE, data_end=utc(2024, 9, 19))
    assert late.as_of == utc(2024, 9, 19)
    assert late.spend == pytest.approx(1800.0)
    assert late.burn_rates == pytest.approx({"1d": 1.0, "7d": 1.0, "period": 1.0})
    assert late.average_daily_spend == pytest.approx(100.0)
    # Windows ending at now would read the missing 1.5 days as zero spend: the 1d window
    # sees nothing and the 7d window only 13 September 12:00 to 19 September 00:00 (550).
    blind = evaluate_budget(spec(3000.0), index, NOW, UTC_ZONE, data_end=None)
    assert blind.burn_rates["1d"] == pytest.approx(0.0)
    assert blind.burn_rates["7d"] == pytest.approx(550.0 / 700.0)


def test_evaluate_budget_counts_a_rising_spend_per_window():
    # 100 a day up to the 13th, then 300 a day: the short windows see the rise first.
    index = index_of(daily_rows(1, 13, 100.0) + daily_rows(14, 30, 300.0))
    status = evaluate_budget(spec(3000.0), index, utc(2024, 9, 20), UTC_ZONE, data_end=None)
    assert status.spend == pytest.approx(13 * 100 + 6 * 300)
    assert status.burn_rates["1d"] == pytest.approx(3.0)
    assert status.burn_rates["7d"] == pytest.approx((100 + 6 * 300) / 7 / 100)
    assert status.burn_rates["period"] == pytest.approx(3100 / 19 / 100)
    assert status.average_daily_spend == pytest.approx(3100 / 19)


@pytest.mark.parametrize(
    ("excluded", "expected_spend"),
    [
        (frozenset(), 1000.0 - 200.0 + 50.0 + 400.0 - 30.0),
        (frozenset({"credit"}), 1000.0 + 50.0 + 400.0 - 30.0),
        (frozenset({"credit", "tax"}), 1000.0 + 400.0 - 30.0),
        (frozenset({"purchase", "refund"}), 1000.0 - 200.0 + 50.0),
        (frozenset({"credit", "tax", "purchase", "refund"}), 1000.0),
    ],
    ids=[
        "every charge counts by default and credits lower spend",
        "excluding credits leaves them out",
        "excluding credits and tax leaves both out",
        "excluding purchases and refunds leaves both out",
        "excluding everything but usage leaves usage",
    ],
)
def test_evaluate_budget_applies_charge_options(excluded, expected_spend):
    index = index_of(
        [
            *daily_rows(1, 10, 100.0),
            row(utc(2024, 9, 5, 3), utc(2024, 9, 5, 3), -200.0, "credit"),
            row(utc(2024, 9, 10), utc(2024, 9, 10), 50.0, "tax"),
            row(utc(2024, 9, 1), utc(2024, 9, 1), 400.0, "purchase"),
            row(utc(2024, 9, 12), utc(2024, 9, 13), -30.0, "refund"),
        ]
    )
    status = evaluate_budget(
        spec(5000.0, excluded_categories=excluded), index, NOW, UTC_ZONE, data_end=None
    )
    assert status.spend == pytest.approx(expected_spend)


FILTER_ROWS = (
    daily_rows(1, 10, 10.0, ServiceName="compute", **{"tags.env": "prod"})
    + daily_rows(1, 10, 1.0, ServiceName="compute", **{"tags.env": "dev"})
    + daily_rows(1, 10, 100.0, ServiceName="storage", **{"tags.env": "prod"})
    + daily_rows(1, 10, 1000.0, ServiceName="queue", **{"tags.env": ""})
    + [row(utc(2024, 9, 2), utc(2024, 9, 2), 5.0, "purchase", ServiceName="compute")]
)


@pytest.mark.parametrize(
    ("budget_filter", "expected_spend"),
    [
        ({}, 10 * 1111.0 + 5.0),
        ({"ServiceName": ("compute",)}, 10 * 11.0 + 5.0),
        ({"ServiceName": ("compute", "storage")}, 10 * 111.0 + 5.0),
        ({"tags.env": ("prod",)}, 10 * 110.0),
        ({"ServiceName": ("compute",), "tags.env": ("prod",)}, 10 * 10.0),
        ({"ChargeCategory": ("Purchase",)}, 5.0),
        ({"ServiceName": ("database",)}, 0.0),
        ({"tags.owner": ("me",)}, 0.0),
    ],
    ids=[
        "no filter counts every row",
        "a dimension filter keeps its value",
        "several values of one key are alternatives",
        "a tag filter keeps rows with that tag value",
        "several keys must all match",
        "ChargeCategory filters the charge category whatever its case",
        "a value nobody has counts nothing",
        "a tag no row has counts nothing",
    ],
)
def test_evaluate_budget_filters_on_dimensions_and_tags(budget_filter, expected_spend):
    index = index_of(FILTER_ROWS)
    status = evaluate_budget(
        spec(1e6, filter=budget_filter), index, utc(2024, 9, 15), UTC_ZONE, data_end=None
    )
    assert status.spend == pytest.approx(expected_spend)


def test_evaluate_budget_breaks_spend_down_by_dimension_with_other():
    index = index_of(FILTER_ROWS)
    status = evaluate_budget(
        spec(1e6, breakdown_dimensions=("ServiceName", "tags.env"), breakdown_top=2),
        index,
        utc(2024, 9, 15),
        UTC_ZONE,
        data_end=None,
    )
    assert dict(status.breakdown["ServiceName"]) == pytest.approx(
        {"queue": 10000.0, "storage": 1000.0, "other": 115.0}
    )
    # Rows without the tag are reported as "none"; the purchase has no tags either.
    assert dict(status.breakdown["tags.env"]) == pytest.approx(
        {"none": 10005.0, "prod": 1100.0, "other": 10.0}
    )
    assert sum(amount for _, amount in status.breakdown["ServiceName"]) == pytest.approx(
        status.spend
    )


def test_evaluate_budget_breakdown_leaves_out_values_that_spent_nothing():
    rows = (
        daily_rows(1, 10, 5.0, ServiceName="compute")
        + daily_rows(1, 10, 0.0, ServiceName="free-tier")
        + [
            row(utc(2024, 9, 3), utc(2024, 9, 3), 40.0, ServiceName="support"),
            row(utc(2024, 9, 4), utc(2024, 9, 4), -40.0, "credit", ServiceName="support"),
        ]
    )
    status = evaluate_budget(
        spec(1e6, breakdown_dimensions=("ServiceName",)),
        index_of(rows),
        utc(2024, 9, 15),
        UTC_ZONE,
        data_end=None,
    )
    assert dict(status.breakdown["ServiceName"]) == pytest.approx({"compute": 50.0})


def test_evaluate_budget_breakdown_only_counts_the_current_period():
    index = index_of(
        [
            row(utc(2024, 8, 31), utc(2024, 9, 1), 70.0, ServiceName="august"),
            row(utc(2024, 9, 3), utc(2024, 9, 4), 30.0, ServiceName="september"),
        ]
    )
    status = evaluate_budget(
        spec(100.0, breakdown_dimensions=("ServiceName", "SkuId")),
        index,
        NOW,
        UTC_ZONE,
        data_end=None,
    )
    assert status.breakdown["ServiceName"] == (("september", 30.0),)
    assert status.breakdown["SkuId"] == (("none", 30.0),)


@pytest.mark.parametrize(
    ("zone", "now", "expected_start", "expected_spend"),
    [
        (UTC_ZONE, utc(2024, 10, 1, 6), utc(2024, 10, 1), 40.0),
        (PARIS, utc(2024, 10, 1, 6), utc(2024, 9, 30, 22), 20.0 + 40.0),
        (ZoneInfo("America/New_York"), utc(2024, 10, 1, 3), utc(2024, 9, 1, 4), 1.0 + 10 + 20),
    ],
    ids=[
        "a UTC month starts at midnight UTC",
        "a Paris month starts at 22:00 UTC in summer",
        "at 03:00 UTC it is still September in New York",
    ],
)
def test_evaluate_budget_aligns_the_period_to_the_time_zone(
    zone, now, expected_start, expected_spend
):
    index = index_of(
        [
            row(utc(2024, 8, 31, 12), utc(2024, 8, 31, 13), 1000.0),
            row(utc(2024, 9, 1, 4), utc(2024, 9, 1, 5), 1.0),
            row(utc(2024, 9, 30, 21), utc(2024, 9, 30, 22), 10.0),
            row(utc(2024, 9, 30, 22), utc(2024, 9, 30, 23), 20.0),
            row(utc(2024, 10, 1, 5), utc(2024, 10, 1, 6), 40.0),
        ]
    )
    status = evaluate_budget(spec(100.0), index, now, zone, data_end=None)
    assert status.period.start == expected_start
    assert status.spend == pytest.approx(expected_spend)


def test_evaluate_budget_on_a_daylight_saving_day_uses_its_23_hours():
    # A daily Paris budget of 23 on the short day: 1 per real hour is exactly on pace.
    start = utc(2024, 3, 30, 23)
    rows = [row(start + timedelta(hours=h), start + timedelta(hours=h + 1), 1.0) for h in range(23)]
    now = utc(2024, 3, 31, 10)  # 11 real hours into the day
    status = evaluate_budget(
        BudgetSpec(name="day", amount=23.0, period=PeriodKind.DAILY),
        index_of(rows),
        now,
        PARIS,
        data_end=None,
    )
    assert status.period.length_seconds == 23 * 3600
    assert status.spend == pytest.approx(11.0)
    assert status.elapsed_ratio == pytest.approx(11 / 23)
    assert status.burn_rates["period"] == pytest.approx(1.0)


def test_evaluate_budget_gives_the_same_result_for_now_in_any_time_zone():
    index = index_of(daily_rows(1, 30, 100.0))
    in_utc = evaluate_budget(spec(2000.0), index, NOW, PARIS, data_end=None)
    in_paris = evaluate_budget(spec(2000.0), index, NOW.astimezone(PARIS), PARIS, data_end=None)
    assert in_paris.spend == pytest.approx(in_utc.spend)
    assert in_paris.burn_rates == pytest.approx(in_utc.burn_rates)
    assert in_paris.average_daily_spend == pytest.approx(in_utc.average_daily_spend)
    assert in_paris.projected_exhaustion == in_utc.projected_exhaustion


@pytest.mark.parametrize(
    "now",
    [utc(2024, 10, 31, 12), utc(2024, 10, 31, 12).astimezone(PARIS)],
    ids=["with now given in UTC", "with now given in Paris time"],
)
def test_evaluate_budget_windows_across_a_dst_change_are_real_time(now):
    # 1 per real hour in Paris October, which has 745 hours: a limit of 745 is exactly on pace,
    # also for the 7d window that spans the change back to winter time on 27 October.
    start = utc(2024, 9, 30, 22)
    rows = [
        row(start + timedelta(hours=h), start + timedelta(hours=h + 1), 1.0) for h in range(745)
    ]
    status = evaluate_budget(spec(745.0), index_of(rows), now, PARIS, data_end=None)
    assert status.spend == pytest.approx(30 * 24 + 14)
    assert status.average_daily_spend == pytest.approx(24.0)
    assert status.burn_rates == pytest.approx({"1d": 1.0, "7d": 1.0, "period": 1.0})
    assert status.projected_exhaustion is None


@pytest.mark.parametrize(
    ("spend_per_day", "reached"),
    [
        (20.0, {"notice": False, "warning": False, "critical": False}),
        (40.0, {"notice": True, "warning": False, "critical": False}),
        (50.0, {"notice": True, "warning": True, "critical": True}),
    ],
    ids=[
        "400 of 1000 reaches no threshold",
        "800 of 1000 reaches the notice threshold only",
        "1000 of 1000 reaches every threshold",
    ],
)
def test_threshold_reached_compares_utilization_with_each_ratio(spend_per_day, reached):
    index = index_of(daily_rows(1, 30, spend_per_day))
    thresholds = {"notice": 0.75, "warning": 0.9, "critical": 1.0}
    status = evaluate_budget(
        spec(1000.0, thresholds=thresholds), index, utc(2024, 9, 21), UTC_ZONE, data_end=None
    )
    assert {name: status.threshold_reached(name) for name in thresholds} == reached


def test_a_limit_of_zero_or_below_gives_infinite_ratios_instead_of_failing():
    # Only a direct caller can pass such a limit (evaluation leaves such budgets out).
    index = index_of(daily_rows(1, 30, 100.0))
    for limit in (0.0, -50.0):
        status = evaluate_budget(spec(limit), index, NOW, UTC_ZONE, data_end=None)
        assert status.utilization == float("inf")
        assert status.burn_rates == {"1d": float("inf"), "7d": float("inf"), "period": float("inf")}
    assert burn_rate(0.0, DAY, 0.0, 30 * DAY) == 0.0


def test_spend_today_is_the_local_days_spend_so_far():
    # 24 a day, so 1 an hour; at 12:00 UTC Paris is at 14:00: its day began 14 hours ago.
    index = index_of(daily_rows(1, 20, 24.0))
    at = utc(2024, 9, 20, 12)
    assert evaluate_budget(spec(1e6), index, at, UTC_ZONE, None).spend_today == pytest.approx(12.0)
    paris = evaluate_budget(spec(1e6), index, at, PARIS, None)
    assert paris.spend_today == pytest.approx(14.0)
