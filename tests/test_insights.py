"""Insights: variance categories, recommendations, weekday pattern and trend, and their metrics."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from prometheus_client.registry import CollectorRegistry

from budget_exporter.config.loader import parse_config
from budget_exporter.evaluation.evaluate import evaluate
from budget_exporter.evaluation.planning import PatternCache
from budget_exporter.metrics.exposition import SnapshotCollector
from budget_exporter.model.costs import CostData, normalize
from budget_exporter.model.periods import PeriodKind, period_containing
from budget_exporter.money.budgets import BudgetStatus
from budget_exporter.money.insights import (
    InsightsConfig,
    RecommendationKind,
    VarianceCategory,
    budget_insights,
    daily_pattern,
    recommendations,
    variance,
)

ZONE = ZoneInfo("UTC")
APRIL = period_containing(PeriodKind.MONTHLY, datetime(2026, 4, 10, tzinfo=UTC), ZONE)
HALFWAY = datetime(2026, 4, 16, tzinfo=UTC)  # 15 of April's 30 days
DEFAULTS = InsightsConfig()


def status(
    spend: float,
    limit: float = 3000.0,
    pace: float = 1.0,
    breakdown: dict[str, tuple[tuple[str, float], ...]] | None = None,
) -> BudgetStatus:
    """An April budget halfway through the month."""
    return BudgetStatus(
        name="b",
        period=APRIL,
        limit=limit,
        spend=spend,
        elapsed_ratio=0.5,
        average_daily_spend=spend / 15,
        burn_rates={"1d": pace, "7d": pace, "period": pace},
        projected_exhaustion=None,
        thresholds={},
        breakdown=breakdown or {},
        as_of=HALFWAY,
    )


@pytest.mark.parametrize(
    ("spend", "elapsed", "category", "ratio"),
    [
        (1500.0, 0.5, VarianceCategory.ON_TRACK, 0.0),
        (1575.0, 0.5, VarianceCategory.ON_TRACK, 0.05),
        (1650.0, 0.5, VarianceCategory.SLIGHTLY_OVER, 0.1),
        (1800.0, 0.5, VarianceCategory.OVER, 0.2),
        (1290.0, 0.5, VarianceCategory.ON_TRACK, -0.14),
        (1200.0, 0.5, VarianceCategory.UNDER, -0.2),
        (40.0, 0.0, VarianceCategory.ON_TRACK, 0.0),
    ],
    ids=[
        "spend equal to the expected share is on track",
        "5% over is still on track: the threshold is exceeded, not reached",
        "10% over is slightly over",
        "20% over is over",
        "14% under is on track",
        "20% under is under",
        "nothing is expected at the very start of a period",
    ],
)
def test_variance_compares_spend_with_the_elapsed_share_of_the_limit(
    spend, elapsed, category, ratio
):
    result = variance(spend, 3000.0, elapsed, DEFAULTS)
    assert result.category is category
    assert result.ratio == pytest.approx(ratio)
    assert result.expected == pytest.approx(3000.0 * elapsed)
    assert result.amount == pytest.approx(spend - 3000.0 * elapsed)


def test_variance_thresholds_come_from_the_config():
    strict = InsightsConfig.model_validate({"variance": {"slightly_over": 0.01, "over": 0.02}})
    assert variance(1545.0, 3000.0, 0.5, strict).category is VarianceCategory.OVER


SERVICE = "ServiceName"
OWNER = "tags.owner"


@pytest.mark.parametrize(
    ("budget", "filtered", "expected"),
    [
        (status(1950.0, pace=1.3), (), [(RecommendationKind.REDUCE_PACE, "", "", 1.3)]),
        (status(1800.0, pace=1.2), (), []),
        (
            status(1000.0, breakdown={SERVICE: (("EC2", 600.0), ("S3", 400.0))}),
            (),
            [(RecommendationKind.REVIEW_RESOURCE, SERVICE, "EC2", 0.6)],
        ),
        (status(1000.0, breakdown={SERVICE: (("EC2", 500.0), ("S3", 500.0))}), (), []),
        (status(1000.0, breakdown={SERVICE: (("other", 900.0), ("S3", 100.0))}), (), []),
        (status(1000.0, breakdown={SERVICE: (("EC2", 1000.0),)}), (SERVICE,), []),
        (
            status(1000.0, breakdown={OWNER: (("alice", 700.0), ("none", 300.0))}),
            (),
            [(RecommendationKind.REVIEW_OWNER, OWNER, "alice", 0.7)],
        ),
        (status(1000.0, breakdown={OWNER: (("none", 800.0), ("bob", 200.0))}), (), []),
        (status(-50.0, breakdown={SERVICE: (("EC2", 100.0), ("credit", -150.0))}), (), []),
    ],
    ids=[
        "a pace 1.3 times the ideal daily rate asks to slow down",
        "a pace at exactly the factor stays quiet",
        "one service above half the spend asks for a review",
        "two services of half each stay quiet",
        "the rest summed as other is not one resource",
        "a budget filtered to one service is not told about it",
        "one owner above half the spend asks for a review",
        "untagged spend is not one owner",
        "a budget whose credits exceed its charges has no shares",
    ],
)
def test_recommendations_fire_above_their_thresholds_and_stay_quiet_below(
    budget, filtered, expected
):
    found = recommendations(budget, DEFAULTS, filtered)
    assert [(r.kind, r.dimension, r.value, pytest.approx(r.measured)) for r in found] == expected


def test_a_recommendation_says_what_to_do_in_words():
    (item,) = recommendations(status(1000.0, breakdown={SERVICE: (("EC2", 600.0),)}), DEFAULTS)
    assert item.message == (
        "resource ServiceName=EC2 is 60% of this budget's spend (above 50%); review it first"
    )


MONDAY = date(2026, 3, 2)
FOUR_WEEKS = [MONDAY + timedelta(days=i) for i in range(28)]


def test_weekday_burn_rates_are_each_weekday_mean_over_the_ideal_day():
    values = [40.0 if day.weekday() >= 5 else 100.0 for day in FOUR_WEEKS]
    pattern = daily_pattern(FOUR_WEEKS, values, ideal_daily=80.0)
    assert pattern is not None
    assert pattern.weekday_burn_rates == {
        "monday": 1.25,
        "tuesday": 1.25,
        "wednesday": 1.25,
        "thursday": 1.25,
        "friday": 1.25,
        "saturday": 0.5,
        "sunday": 0.5,
    }


@pytest.mark.parametrize(
    ("values", "slope", "significant"),
    [
        ([10.0 + 2.0 * i for i in range(28)], 2.0, True),
        ([50.0] * 28, 0.0, False),
        ([50.0 + (5.0 if i % 2 else -5.0) for i in range(28)], None, False),
    ],
    ids=[
        "spend growing by 2 a day has a significant slope of 2",
        "flat spend has no trend",
        "alternating spend has no significant trend",
    ],
)
def test_the_trend_of_daily_spend_and_its_significance(values, slope, significant):
    pattern = daily_pattern(FOUR_WEEKS, values, ideal_daily=50.0)
    assert pattern is not None
    if slope is not None:
        assert pattern.trend_slope == pytest.approx(slope)
    assert (pattern.trend_p_value < 0.05) is significant


def test_flat_spend_with_rounding_noise_has_no_trend():
    # Daily spend out of float sums: the same 50.0 a day, off by a few ulps here and there.
    noise = [0.0, 7e-15, -7e-15, 1.4e-14, 0.0, -1.4e-14, 7e-15] * 4
    pattern = daily_pattern(FOUR_WEEKS, [50.0 + wobble for wobble in noise], ideal_daily=50.0)
    assert pattern is not None
    assert (pattern.trend_slope, pattern.trend_p_value) == (0.0, 1.0)


def test_less_than_two_weeks_of_days_gives_no_pattern():
    assert daily_pattern(FOUR_WEEKS[:13], [1.0] * 13, ideal_daily=1.0) is None


def test_the_ideal_daily_spend_spreads_what_remains_over_the_days_left():
    insights = budget_insights(status(1800.0), DEFAULTS)
    assert insights.ideal_daily_spend == pytest.approx((3000.0 - 1800.0) / 15)
    assert budget_insights(status(3100.0), DEFAULTS).ideal_daily_spend == 0.0


CONFIG = """
timezone: UTC
series: {weekday_pattern: true, trend: true, variance_amounts: true}
providers:
  costs: {type: csv, paths: [costs.csv]}
budgets:
  - name: auto
    period: monthly
    amount: {auto: trailing_average, periods: 3}
    rollover: {max: 0.1}
  - name: planned
    period: monthly
    amount: 1000
    planned: {2026-04: 200}
"""


def ten_a_day(first: date, last: date) -> CostData:
    """Daily rows of 10 on EC2 (owned by alice) from ``first`` to ``last`` included."""
    days = pd.date_range(first, last, freq="D", tz="UTC")
    frame = pd.DataFrame(
        {
            "start": days,
            "end": days + pd.Timedelta(days=1),
            "cost": 10.0,
            "currency": "USD",
            "charge_category": "usage",
            "ServiceName": "EC2",
            "tags.owner": "alice",
        }
    )
    return CostData(frame=normalize(frame), data_end=days[-1] + pd.Timedelta(days=1))


def test_evaluation_applies_the_plan_and_the_insights_and_exports_them():
    config = parse_config(CONFIG)
    now = datetime(2026, 4, 16, tzinfo=UTC)
    snapshot = evaluate(config, {"costs": ten_a_day(date(2026, 1, 1), date(2026, 4, 15))}, (), now)
    auto, planned = snapshot.budgets
    # January 310, February 280, March 310: a 300 average. March's own amount was 295 (January
    # and February: the data starts in January) and it spent 310, so nothing rolls over.
    assert auto.plan is not None and planned.plan is not None
    assert (auto.status.limit, auto.plan.source.value, auto.plan.periods_used) == (
        300.0,
        "trailing_average",
        3,
    )
    assert auto.plan.rollover == 0.0
    assert (planned.status.limit, planned.plan.source.value) == (200.0, "planned")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    value = registry.get_sample_value
    # 150 spent of 200 with half the month gone: 100 expected, 50% over.
    assert value("budget_spend_variance_ratio", {"budget": "planned"}) == pytest.approx(0.5)
    assert value("budget_variance_category", {"budget": "planned", "category": "over"}) == 1.0
    # Only the state in force is a series: the other categories and sources cost nothing.
    assert value("budget_variance_category", {"budget": "planned", "category": "on_track"}) is None
    assert value("budget_amount_source", {"budget": "planned", "source": "planned"}) == 1.0
    assert value("budget_amount_source", {"budget": "planned", "source": "fixed"}) is None
    assert value("budget_base_amount", {"budget": "auto", "currency": "USD"}) == 300.0
    labels = {
        "budget": "planned",
        "recommendation": "review_owner",
        "dimension": "tags.owner",
        "value": "alice",
    }
    assert value("budget_recommendation", labels) == pytest.approx(1.0)
    pace = {"budget": "planned", "recommendation": "reduce_pace", "dimension": "", "value": ""}
    assert value("budget_recommendation", pace) == pytest.approx(1.5)  # 10 a day, 200 / 30 ideal
    assert value(
        "budget_weekday_burn_rate", {"budget": "planned", "weekday": "monday"}
    ) == pytest.approx(1.5)
    assert value("budget_daily_spend_trend", {"budget": "planned", "currency": "USD"}) == 0.0


def test_daily_patterns_are_read_a_capped_number_of_budgets_per_evaluation():
    config = parse_config(CONFIG)
    data = {"costs": ten_a_day(date(2026, 1, 1), date(2026, 4, 15))}
    now = datetime(2026, 4, 16, tzinfo=UTC)
    cache = PatternCache(max_reads_per_evaluation=1)
    first = evaluate(config, data, (), now, patterns=cache)
    second = evaluate(config, data, (), now, patterns=cache)
    assert [entry.insights.pattern is not None for entry in first.budgets] == [True, False]
    assert [entry.insights.pattern is not None for entry in second.budgets] == [True, True]


def test_a_fixed_amount_without_rollover_exports_no_plan_series_only_its_limit():
    config = parse_config(CONFIG + "  - {name: fixed, period: monthly, amount: 500}\n")
    now = datetime(2026, 4, 16, tzinfo=UTC)
    snapshot = evaluate(config, {"costs": ten_a_day(date(2026, 1, 1), date(2026, 4, 15))}, (), now)
    fixed = snapshot.budgets[-1]
    assert fixed.plan is not None and fixed.plan.source.value == "fixed"
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    value = registry.get_sample_value
    assert value("budget_limit", {"budget": "fixed", "currency": "USD"}) == 500.0
    for name in ("budget_base_amount", "budget_rollover_amount"):
        assert value(name, {"budget": "fixed", "currency": "USD"}) is None, name
    assert value("budget_amount_source_periods", {"budget": "fixed"}) is None
    assert value("budget_amount_source", {"budget": "fixed", "source": "fixed"}) is None
    # The auto budget, which rolls over, keeps them.
    assert value("budget_rollover_amount", {"budget": "auto", "currency": "USD"}) == 0.0
