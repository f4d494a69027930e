"""Planning: fiscal, weekly and custom periods; planned, auto-adjusted and rolled-over amounts."""

import dataclasses
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from budget_exporter.config.loader import parse_config
from budget_exporter.evaluation.evaluate import evaluate
from budget_exporter.metrics.exposition import render
from budget_exporter.model.costs import CostData, normalize
from budget_exporter.model.periods import Calendar, Period, PeriodKind, period_containing
from budget_exporter.money.planning import (
    AmountPlan,
    AmountSource,
    AutoMethod,
    amount_in_force,
    auto_amount,
    linear_next,
    rollover,
)

ZONE = ZoneInfo("UTC")
APRIL_YEAR = Calendar(year_start_month=4)


def utc(*parts: int) -> datetime:
    """A UTC moment from year, month, day[, hour]."""
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "calendar", "moment", "start", "end"),
    [
        (PeriodKind.YEARLY, APRIL_YEAR, utc(2026, 2, 10), utc(2025, 4, 1), utc(2026, 4, 1)),
        (PeriodKind.YEARLY, APRIL_YEAR, utc(2026, 4, 1), utc(2026, 4, 1), utc(2027, 4, 1)),
        (PeriodKind.QUARTERLY, APRIL_YEAR, utc(2026, 2, 10), utc(2026, 1, 1), utc(2026, 4, 1)),
        (PeriodKind.QUARTERLY, APRIL_YEAR, utc(2026, 5, 15), utc(2026, 4, 1), utc(2026, 7, 1)),
        (
            PeriodKind.QUARTERLY,
            Calendar(year_start_month=2),
            utc(2026, 1, 15),
            utc(2025, 11, 1),
            utc(2026, 2, 1),
        ),
        (
            PeriodKind.WEEKLY,
            Calendar(week_start=6),
            utc(2026, 1, 7),
            utc(2026, 1, 4),
            utc(2026, 1, 11),
        ),
        (PeriodKind.WEEKLY, Calendar(), utc(2026, 1, 7), utc(2026, 1, 5), utc(2026, 1, 12)),
        (
            PeriodKind.WEEKLY,
            Calendar(week_start=6),
            utc(2026, 1, 4),
            utc(2026, 1, 4),
            utc(2026, 1, 11),
        ),
        (PeriodKind.YEARLY, Calendar(), utc(2026, 2, 10), utc(2026, 1, 1), utc(2027, 1, 1)),
    ],
    ids=[
        "a fiscal year from April holds February in the year that began the April before",
        "a fiscal year from April starts on the first of April",
        "the fiscal quarter from April holding February is January to March",
        "the first fiscal quarter from April is April to June",
        "fiscal quarters from February put January in November to January",
        "a week starting on Sunday holds the Wednesday after it",
        "a week starts on Monday by default",
        "a Sunday starts its own week when weeks start on Sunday",
        "a calendar year starts in January by default",
    ],
)
def test_periods_follow_the_fiscal_year_and_the_week_start(kind, calendar, moment, start, end):
    period = period_containing(kind, moment, ZONE, calendar)
    assert (period.start, period.end) == (start, end)


def test_a_custom_period_is_its_span_whatever_the_moment():
    calendar = Calendar(start=date(2026, 1, 15), end=date(2026, 4, 15))
    before = period_containing(PeriodKind.CUSTOM, utc(2026, 1, 1), ZONE, calendar)
    during = period_containing(PeriodKind.CUSTOM, utc(2026, 3, 1), ZONE, calendar)
    assert (during.start, during.end) == (utc(2026, 1, 15), utc(2026, 4, 15))
    assert before == during
    assert before.elapsed_ratio(utc(2026, 1, 1)) == 0.0
    assert during.elapsed_ratio(utc(2026, 5, 1)) == 1.0
    assert during.preceding() is None
    assert during.key == "2026-01-15"


@pytest.mark.parametrize(
    ("calendar", "problem"),
    [
        (dict(year_start_month=13), "not a month"),
        (dict(week_start=7), "not a weekday"),
        (dict(start=date(2026, 1, 1)), "needs both start and end"),
        (dict(start=date(2026, 1, 1), end=date(2026, 1, 1)), "lasts 1 to 366 days"),
        (dict(start=date(2026, 1, 1), end=date(2027, 1, 3)), "lasts 1 to 366 days"),
    ],
    ids=[
        "a thirteenth month is refused",
        "an eighth weekday is refused",
        "a custom start without an end is refused",
        "a custom period of no day is refused",
        "a custom period over a year is refused",
    ],
)
def test_a_calendar_refuses_impossible_settings(calendar, problem):
    with pytest.raises(ValueError, match=problem):
        Calendar(**calendar)


@pytest.mark.parametrize(
    ("kind", "calendar", "moment", "key", "previous_key"),
    [
        (PeriodKind.MONTHLY, Calendar(), utc(2026, 1, 20), "2026-01", "2025-12"),
        (PeriodKind.QUARTERLY, APRIL_YEAR, utc(2026, 5, 1), "2026-04", "2026-01"),
        (PeriodKind.YEARLY, APRIL_YEAR, utc(2026, 5, 1), "2026-04", "2025-04"),
        (PeriodKind.WEEKLY, Calendar(week_start=6), utc(2026, 1, 7), "2026-01-04", "2025-12-28"),
        (PeriodKind.DAILY, Calendar(), utc(2026, 3, 1, 5), "2026-03-01", "2026-02-28"),
    ],
    ids=[
        "a month is named by its month and follows December of the year before",
        "a fiscal quarter is named by the month it starts in",
        "a fiscal year is named by the month it starts in",
        "a week is named by its first day",
        "a day is named by its date and follows the last day of February",
    ],
)
def test_periods_are_named_by_their_start_and_know_the_one_before(
    kind, calendar, moment, key, previous_key
):
    period = period_containing(kind, moment, ZONE, calendar)
    previous = period.preceding()
    assert period.key == key
    assert previous is not None and previous.key == previous_key
    assert previous.end == period.start
    assert previous.following() == period


# Monthly spend by period key: the history the auto amounts learn from.
SPEND = {"2025-12": 50.0, "2026-01": 100.0, "2026-02": 200.0, "2026-03": 600.0, "2026-04": 0.0}


def spend_of(period: Period) -> float:
    """Spend of a monthly period in the table above."""
    return SPEND[period.key]


def month(year: int, number: int) -> Period:
    """The calendar month."""
    return period_containing(PeriodKind.MONTHLY, utc(year, number, 10), ZONE)


JANUARY = utc(2026, 1, 1).timestamp()
FEBRUARY = utc(2026, 2, 1).timestamp()


@pytest.mark.parametrize(
    ("plan", "period", "data_start", "amount", "source", "used"),
    [
        (AmountPlan(1000.0), month(2026, 4), JANUARY, 1000.0, AmountSource.FIXED, 0),
        (
            AmountPlan(9000.0, planned={"2026-02": 9500.0}),
            month(2026, 2),
            JANUARY,
            9500.0,
            AmountSource.PLANNED,
            0,
        ),
        (
            AmountPlan(9000.0, planned={"2026-02": 9500.0}),
            month(2026, 3),
            JANUARY,
            9000.0,
            AmountSource.FIXED,
            0,
        ),
        (
            AmountPlan(None, AutoMethod.TRAILING_AVERAGE, periods=3),
            month(2026, 4),
            JANUARY,
            300.0,  # (100 + 200 + 600) / 3
            AmountSource.TRAILING_AVERAGE,
            3,
        ),
        (
            AmountPlan(None, AutoMethod.TRAILING_AVERAGE, periods=3),
            month(2026, 4),
            FEBRUARY,
            400.0,  # January is before the data: (200 + 600) / 2
            AmountSource.TRAILING_AVERAGE,
            2,
        ),
        (
            AmountPlan(None, AutoMethod.LAST_PERIOD),
            month(2026, 4),
            JANUARY,
            600.0,
            AmountSource.LAST_PERIOD,
            1,
        ),
        (
            AmountPlan(None, AutoMethod.FORECAST, periods=3),
            month(2026, 4),
            JANUARY,
            800.0,  # line through 100, 200, 600: 300 + 250 * 2
            AmountSource.FORECAST,
            3,
        ),
        (
            AmountPlan(None, AutoMethod.TRAILING_AVERAGE, periods=2),
            month(2026, 1),
            utc(2025, 12, 1).timestamp(),
            50.0,  # across the year boundary: December alone
            AmountSource.TRAILING_AVERAGE,
            1,
        ),
        (
            AmountPlan(5000.0, AutoMethod.TRAILING_AVERAGE),
            month(2026, 1),
            JANUARY,
            5000.0,  # no complete period of data yet
            AmountSource.INITIAL,
            0,
        ),
        (
            AmountPlan(None, AutoMethod.LAST_PERIOD, planned={"2026-04": 700.0}),
            month(2026, 4),
            JANUARY,
            700.0,
            AmountSource.PLANNED,
            0,
        ),
    ],
    ids=[
        "a fixed amount holds every period",
        "a planned amount wins for its period",
        "a period without a planned amount falls back to the fixed one",
        "a trailing average reads the last three complete periods",
        "a trailing average leaves out periods before the first data",
        "last period takes the previous period's total",
        "a forecast extends the least-squares line one period",
        "a trailing average in January reads December of the year before",
        "an auto budget without history uses its initial amount",
        "a planned amount wins over an auto amount",
    ],
)
def test_the_amount_in_force_follows_the_planning_rules(
    plan, period, data_start, amount, source, used
):
    planned = amount_in_force(plan, period, spend_of, data_start)
    assert planned is not None
    assert planned.amount == pytest.approx(amount)
    assert (planned.source, planned.periods_used, planned.rollover) == (source, used, 0.0)


def test_an_auto_budget_without_history_nor_initial_amount_has_no_amount():
    plan = AmountPlan(None, AutoMethod.TRAILING_AVERAGE)
    assert amount_in_force(plan, month(2026, 1), spend_of, JANUARY) is None
    assert amount_in_force(plan, month(2026, 4), spend_of, None) is None


@pytest.mark.parametrize(
    ("plan", "period", "data_start", "base", "carried"),
    [
        (AmountPlan(250.0, rollover_max=0.5), month(2026, 3), JANUARY, 250.0, 50.0),
        (AmountPlan(1000.0, rollover_max=0.2), month(2026, 3), JANUARY, 1000.0, 200.0),
        (AmountPlan(150.0, rollover_max=0.5), month(2026, 3), JANUARY, 150.0, 0.0),
        (AmountPlan(1000.0, rollover_max=0.2), month(2026, 2), FEBRUARY, 1000.0, 0.0),
        (
            AmountPlan(300.0, planned={"2026-03": 2000.0}, rollover_max=0.2),
            month(2026, 3),
            JANUARY,
            2000.0,
            100.0,
        ),
        (
            AmountPlan(None, AutoMethod.TRAILING_AVERAGE, periods=3, rollover_max=0.5),
            month(2026, 5),
            utc(2025, 12, 1).timestamp(),
            800.0 / 3,  # (200 + 600 + 0) / 3
            400.0 / 3,  # April's own 300 unspent, capped at half of May's 266.67
        ),
    ],
    ids=[
        "unused money of February carries over below the cap (250 - 200)",
        "the carried amount stops at the cap (800 unused, 20% of 1000)",
        "an overspent previous period carries nothing",
        "a previous period before the first data carries nothing",
        "the cap is a share of this period's planned amount (300 - 200 unused)",
        "an auto budget carries the unused part of the previous period's derived amount",
    ],
)
def test_rollover_adds_the_capped_unused_part_of_the_previous_period(
    plan, period, data_start, base, carried
):
    planned = amount_in_force(plan, period, spend_of, data_start)
    assert planned is not None
    assert (planned.base, planned.rollover) == (pytest.approx(base), pytest.approx(carried))
    assert planned.amount == pytest.approx(base + carried)


@pytest.mark.parametrize(
    ("totals", "expected"),
    [([100.0], 100.0), ([600.0, 300.0, 0.0], 0.0), ([10.0, 20.0], 30.0), ([-5.0], 0.0)],
    ids=[
        "one total is its own forecast",
        "a falling line is clipped at zero",
        "two totals extend their difference",
        "a credit-only period forecasts zero",
    ],
)
def test_the_linear_forecast_of_period_totals(totals, expected):
    assert linear_next(totals) == pytest.approx(expected)


def test_an_auto_amount_needs_a_period_of_history():
    with pytest.raises(ValueError, match="at least one earlier period"):
        auto_amount(AutoMethod.TRAILING_AVERAGE, [])


def test_rollover_never_carries_a_negative_amount():
    assert rollover(100.0, 150.0, 0.2, 100.0) == 0.0


FISCAL_CONFIG = """
timezone: UTC
fiscal_year_start: 4
week_start: sunday
providers:
  costs: {type: csv, paths: [costs.csv]}
budgets:
  - {name: year, period: yearly, amount: 3650}
  - {name: quarter, period: quarterly, amount: {auto: last_period}}
  - {name: week, period: weekly, amount: 100}
  - {name: february, period: custom, start: 2026-02-01, end: 2026-02-28, amount: 500}
"""


def test_evaluation_follows_fiscal_weekly_and_custom_periods():
    days = pd.date_range("2026-01-01", "2026-04-15", freq="D", tz="UTC")
    frame = pd.DataFrame(
        {"start": days, "end": days + pd.Timedelta(days=1), "cost": 10.0, "currency": "USD"}
    )
    frame["charge_category"] = "usage"
    data = {"costs": CostData(frame=normalize(frame), data_end=utc(2026, 4, 16))}
    snapshot = evaluate(parse_config(FISCAL_CONFIG), data, (), utc(2026, 4, 16))
    found = {
        entry.status.name: (entry.status.period.start, entry.status.limit, entry.status.spend)
        for entry in snapshot.budgets
    }
    assert found == {
        "year": (utc(2026, 4, 1), 3650.0, pytest.approx(150.0)),
        # The fiscal quarter before April is January to March: 90 days of 10.
        "quarter": (utc(2026, 4, 1), pytest.approx(900.0), pytest.approx(150.0)),
        "week": (utc(2026, 4, 12), 100.0, pytest.approx(40.0)),
        "february": (utc(2026, 2, 1), 500.0, pytest.approx(280.0)),
    }


@pytest.mark.parametrize(
    ("method", "totals", "initial", "expected"),
    [
        (AutoMethod.LAST_PERIOD, [100.0, 200.0, 0.0], 250.0, 250.0),
        (AutoMethod.TRAILING_AVERAGE, [-90.0, 30.0, 0.0], 250.0, 250.0),
        (AutoMethod.LAST_PERIOD, [100.0, 200.0, 0.0], None, None),
        (AutoMethod.TRAILING_AVERAGE, [-90.0, 30.0, 0.0], None, None),
    ],
    ids=[
        "a period without spend falls back to the initial amount",
        "credits that outweigh spend fall back to the initial amount",
        "a period without spend and no initial amount gives no limit",
        "credits and no initial amount give no limit",
    ],
)
def test_an_auto_amount_of_zero_or_less_is_no_limit(method, totals, initial, expected):
    spend = dict(zip(["2026-01", "2026-02", "2026-03"], totals, strict=True))
    plan = AmountPlan(initial, method, periods=3)
    planned = amount_in_force(plan, month(2026, 4), lambda period: spend[period.key], JANUARY)
    if expected is None:
        assert planned is None
    else:
        assert planned is not None
        assert (planned.amount, planned.source) == (expected, AmountSource.INITIAL)


ZERO_SPEND_CONFIG = """
timezone: UTC
providers:
  costs: {type: csv, paths: [costs.csv]}
budgets:
  - {name: fixed, period: monthly, amount: 100}
  - {name: auto, period: monthly, amount: {auto: last_period}}
  - {name: auto-initial, period: monthly, amount: {auto: last_period, initial: 500}}
"""


def test_a_month_without_spend_leaves_the_other_budgets_evaluated():
    days = pd.date_range("2026-02-01", "2026-04-15", freq="D", tz="UTC")
    frame = pd.DataFrame(
        {"start": days, "end": days + pd.Timedelta(days=1), "cost": 10.0, "currency": "USD"}
    )
    frame.loc[frame["start"].dt.month == 3, "cost"] = 0.0  # March: nothing spent
    frame["charge_category"] = "usage"
    data = {"costs": CostData(frame=normalize(frame), data_end=utc(2026, 4, 16))}
    snapshot = evaluate(parse_config(ZERO_SPEND_CONFIG), data, (), utc(2026, 4, 16))
    found = {entry.status.name: entry.status.limit for entry in snapshot.budgets}
    # The auto budget derives 0 from March: no limit yet, left out like one without history.
    assert found == {"fixed": 100.0, "auto-initial": 500.0}


CHILDREN_CONFIG = """
timezone: UTC
providers:
  costs: {type: csv, paths: [costs.csv]}
budgets:
  - {name: all, period: monthly, amount: 5000}
  # Children listed after the parent: their amounts in force are known all the same.
  - {name: planned, period: monthly, amount: 300, planned: {2026-04: 700}, parent: all}
  - {name: auto, period: monthly, amount: {auto: last_period}, parent: all}
  - {name: carried, period: monthly, amount: 400, rollover: {max: 0.5}, parent: all}
  - {name: weekly, period: weekly, amount: {auto: last_period}, parent: all}
"""


def test_the_children_limit_adds_the_amounts_in_force_of_the_children():
    days = pd.date_range("2026-02-01", "2026-04-15", freq="D", tz="UTC")
    frame = pd.DataFrame(
        {"start": days, "end": days + pd.Timedelta(days=1), "cost": 10.0, "currency": "USD"}
    )
    frame["charge_category"] = "usage"
    data = {"costs": CostData(frame=normalize(frame), data_end=utc(2026, 4, 16))}
    snapshot = evaluate(parse_config(CHILDREN_CONFIG), data, (), utc(2026, 4, 16))
    entries = {entry.status.name: entry for entry in snapshot.budgets}
    # planned: 700 in April; auto: March's 310; carried: 400 + 90 unused of March's 400
    # (capped at 200); weekly: the week before's 70, scaled to a month of 365.2425 / 12 days.
    month_days = 365.2425 / 12
    expected = 700.0 + 310.0 + 490.0 + 70.0 * month_days / 7
    assert entries["carried"].status.limit == pytest.approx(490.0)
    assert entries["all"].children_limit == pytest.approx(expected)


def test_a_parent_limit_of_zero_is_exposed_as_an_infinite_allocation():
    days = pd.date_range("2026-02-01", "2026-04-15", freq="D", tz="UTC")
    frame = pd.DataFrame(
        {"start": days, "end": days + pd.Timedelta(days=1), "cost": 10.0, "currency": "USD"}
    )
    frame["charge_category"] = "usage"
    data = {"costs": CostData(frame=normalize(frame), data_end=utc(2026, 4, 16))}
    snapshot = evaluate(parse_config(CHILDREN_CONFIG), data, (), utc(2026, 4, 16))
    # Only a hand-made snapshot has such a limit; rendering it must not fail.
    entries = tuple(
        dataclasses.replace(entry, status=dataclasses.replace(entry.status, limit=0.0))
        if entry.status.name == "all"
        else entry
        for entry in snapshot.budgets
    )
    text = render(dataclasses.replace(snapshot, budgets=entries)).decode()
    assert 'budget_children_allocation_ratio{budget="all"' in text
    line = next(row for row in text.splitlines() if row.startswith("budget_children_allocation"))
    assert line.endswith(" +Inf")
