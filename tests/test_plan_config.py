"""Config of planning and insights, and exchange rates by month."""

from datetime import UTC, date, datetime

import pandas as pd
import pytest
from prometheus_client.registry import CollectorRegistry

from budget_exporter.config.loader import parse_config
from budget_exporter.evaluation.evaluate import evaluate
from budget_exporter.metrics.exposition import SnapshotCollector
from budget_exporter.model.errors import ConfigError, ProviderError
from budget_exporter.model.periods import Calendar, PeriodKind
from budget_exporter.money.currency import rate_for_month, rates_in_force, to_reporting_currency
from budget_exporter.money.planning import AmountPlan, AutoMethod

HEAD = "providers:\n  costs: {type: csv, paths: [costs.csv]}\n"


def config_text(budget: str, top: str = "") -> str:
    """A config with one budget (given as a YAML flow mapping) and optional top-level keys."""
    return f"{top}{HEAD}budgets:\n  - {budget}\n"


def problems(text: str) -> list[tuple[str, str]]:
    """(path, message) of each problem the config text has."""
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return [(problem.path, problem.message) for problem in caught.value.problems]


def test_an_auto_amount_becomes_the_budget_plan():
    config = parse_config(
        config_text(
            "{name: b, period: monthly, amount: {auto: forecast, periods: 6, initial: 900}, "
            "planned: {2026-01: 9000}, rollover: {max: 0.2}}"
        )
    )
    assert config.budgets[0].amount_plan() == AmountPlan(
        900.0, AutoMethod.FORECAST, periods=6, planned={"2026-01": 9000.0}, rollover_max=0.2
    )


def test_a_weekly_plan_takes_the_dates_yaml_reads_as_dates():
    config = parse_config(
        config_text("{name: b, period: weekly, amount: 10, planned: {2026-01-05: 20}}")
    )
    assert config.budgets[0].planned == {"2026-01-05": 20.0}


def test_a_custom_budget_gets_its_dates_and_the_fiscal_and_week_settings():
    config = parse_config(
        config_text(
            "{name: b, period: custom, start: 2026-01-15, end: 2026-04-14, amount: 10}",
            top="fiscal_year_start: 4\nweek_start: sunday\n",
        )
    )
    budget = config.budgets[0]
    assert config.calendar_for(budget) == Calendar(4, 6, date(2026, 1, 15), date(2026, 4, 15))
    assert budget.nominal_days == 90.0


@pytest.mark.parametrize(
    ("budget", "top", "path", "message"),
    [
        (
            "{name: b, period: monthly, amount: {auto: median}}",
            "",
            "budgets[0].amount.auto",
            "'trailing_average', 'last_period' or 'forecast'",
        ),
        (
            "{name: b, period: monthly, amount: {auto: last_period, periods: 0}}",
            "",
            "budgets[0].amount.periods",
            "greater than or equal to 1",
        ),
        ("{name: b, period: monthly, amount: lots}", "", "budgets[0].amount", "valid number"),
        (
            "{name: b, period: monthly, amount: 10, planned: {2026-1: 5}}",
            "",
            "budgets[0]",
            "named by the month it starts in, such as 2026-01",
        ),
        (
            "{name: b, period: daily, amount: 10, planned: {2026-W02: 5}}",
            "",
            "budgets[0]",
            "named by its first day",
        ),
        ("{name: b, period: custom, amount: 10}", "", "budgets[0]", "needs start and end dates"),
        (
            "{name: b, period: monthly, amount: 10, rollover: {max: 1.5}}",
            "",
            "budgets[0].rollover.max",
            "less than or equal to 1",
        ),
        (
            "{name: b, period: monthly, amount: 10}",
            "exchange_rates: {EUR: {2026-13: 1.1}}\n",
            "exchange_rates",
            "write it as 2026-01",
        ),
        (
            "{name: b, period: monthly, amount: 10}",
            "exchange_rates: {EUR: {2026-01: -1}}\n",
            "exchange_rates",
            "rate for EUR 2026-01 must be a positive number",
        ),
        (
            "{name: b, period: monthly, amount: 10}",
            "fiscal_year_start: 13\n",
            "fiscal_year_start",
            "less than or equal to 12",
        ),
        ("{name: b, period: monthly, amount: 10}", "week_start: sun\n", "week_start", "'monday'"),
        (
            "{name: b, period: monthly, amount: 10}",
            "insights: {variance: {slightly_over: 0.2, over: 0.1}}\n",
            "insights.variance",
            "slightly_over (0.2) must be below over (0.1)",
        ),
    ],
    ids=[
        "an unknown auto method names the methods",
        "an auto amount reads at least one period",
        "a word for an amount is still refused where it stands",
        "a monthly plan is keyed by month",
        "a daily plan is keyed by dates",
        "a custom period needs its dates",
        "rollover cannot carry more than the whole amount",
        "a rate month is a real month",
        "a monthly rate is positive",
        "a fiscal year starts in a real month",
        "a week starts on a named weekday",
        "variance thresholds are ordered",
    ],
)
def test_bad_planning_settings_are_named_where_they_are(budget, top, path, message):
    found = problems(config_text(budget, top))
    assert any(where == path and message in text for where, text in found), found


def test_a_custom_period_refuses_a_rollover():
    found = problems(
        config_text(
            "{name: b, period: custom, start: 2026-01-01, end: 2026-01-31, amount: 10, "
            "rollover: {max: 0.1}}"
        )
    )
    assert found == [
        ("budgets[0]", "a custom period has no previous period to roll money over from")
    ]


RATES = {"EUR": {"2026-01": 1.1, "2026-03": 1.2}, "GBP": 1.25}


@pytest.mark.parametrize(
    ("rate", "month", "expected"),
    [
        (RATES["EUR"], "2026-01", 1.1),
        (RATES["EUR"], "2026-02", 1.1),
        (RATES["EUR"], "2026-07", 1.2),
        (RATES["EUR"], "2025-12", None),
        (1.25, "1999-01", 1.25),
    ],
    ids=[
        "a month with its own rate uses it",
        "a month without an entry keeps the one before",
        "the newest entry holds after it",
        "a month before the first entry has no rate",
        "a single rate holds every month",
    ],
)
def test_the_rate_of_a_month(rate, month, expected):
    assert rate_for_month(rate, month) == expected


def frame(*rows: tuple[str, float, str]) -> pd.DataFrame:
    """A normalized-like frame of daily rows (date, cost, currency)."""
    starts = pd.to_datetime([day for day, _, _ in rows], utc=True)
    return pd.DataFrame(
        {
            "start": starts,
            "end": starts + pd.Timedelta(days=1),
            "cost": [cost for _, cost, _ in rows],
            "currency": pd.Categorical([code for _, _, code in rows]),
        }
    )


def test_rows_convert_at_the_rate_of_their_month():
    converted = to_reporting_currency(
        frame(
            ("2026-01-31", 100.0, "EUR"),
            ("2026-02-01", 100.0, "EUR"),
            ("2026-03-01", 100.0, "EUR"),
            ("2026-03-02", 100.0, "GBP"),
            ("2026-03-03", 100.0, "USD"),
        ),
        "USD",
        RATES,
        "costs",
    )
    assert list(converted["cost"]) == pytest.approx([110.0, 110.0, 120.0, 125.0, 100.0])
    assert set(converted["currency"].astype(str)) == {"USD"}


def test_a_row_before_the_first_monthly_rate_is_an_error_naming_currency_and_month():
    with pytest.raises(ProviderError, match=r"rows in EUR dated 2025-12, before the first rate"):
        to_reporting_currency(frame(("2025-12-31", 100.0, "EUR")), "USD", RATES, "costs")


def test_a_currency_without_any_rate_is_an_error_not_a_sum():
    with pytest.raises(ProviderError, match="rows in CHF but no exchange_rates entry"):
        to_reporting_currency(frame(("2026-01-02", 1.0, "CHF")), "USD", RATES, "costs")


def test_the_rates_in_force_leave_out_a_currency_whose_table_starts_later():
    assert rates_in_force(RATES, datetime(2026, 2, 15, tzinfo=UTC)) == {"EUR": 1.1, "GBP": 1.25}
    assert rates_in_force(RATES, datetime(2025, 6, 1, tzinfo=UTC)) == {"GBP": 1.25}


def test_period_kinds_accept_custom():
    assert PeriodKind("custom") is PeriodKind.CUSTOM


def test_a_date_the_calendar_lacks_is_a_config_problem_not_a_crash():
    assert problems(
        config_text("{name: b, period: custom, start: 2026-02-30, end: 2026-03-31, amount: 1}")
    ) == [
        (
            "budgets[0].start",
            "Input should be a valid date or datetime, day value is outside expected range",
        )
    ]


def test_the_rate_in_force_is_exported_with_both_currencies():
    config = parse_config(
        "currency: USD\nexchange_rates: {EUR: {2026-01: 1.1, 2026-03: 1.2}}\n" + HEAD
    )
    snapshot = evaluate(config, {}, (), datetime(2026, 3, 5, tzinfo=UTC))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    labels = {"source_currency": "EUR", "currency": "USD"}
    assert registry.get_sample_value("budget_exchange_rate", labels) == 1.2
