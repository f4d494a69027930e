"""Planning and insight metric families of a snapshot.

Sample of the exposition::

    # HELP budget_spend_variance_ratio Spend so far against the spend expected for the elapsed ...
    # TYPE budget_spend_variance_ratio gauge
    budget_spend_variance_ratio{budget="platform",team="platform"} 0.08

Cardinality: per budget, one sample per family, four variance categories, seven weekdays and
recommendations bounded by the breakdown's top values of the configured dimensions.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from ..evaluation.snapshot import Snapshot
from ..model.metric_family import FamilySpec
from ..money.planning import AmountSource
from .family import exposed, new_families

BASE_AMOUNT = FamilySpec(
    "budget_base_amount",
    "This period's own amount before rollover, in currency: fixed, planned for the "
    "period, or derived from earlier periods (see budget_amount_source).",
    "budget",
    ("currency",),
)
ROLLOVER_AMOUNT = FamilySpec(
    "budget_rollover_amount",
    "Unused money of the previous period carried into this one (capped), in currency; "
    "budget_limit is budget_base_amount plus this.",
    "budget",
    ("currency",),
)
AMOUNT_SOURCE = FamilySpec(
    "budget_amount_source",
    "Where this period's amount comes from, as the source label (always 1; one series per "
    "budget): fixed, planned, initial, trailing_average, last_period or forecast; derived "
    "amounts change at period start.",
    "budget",
    ("source",),
)
AMOUNT_SOURCE_PERIODS = FamilySpec(
    "budget_amount_source_periods",
    "Earlier periods an auto-adjusting amount was derived from (0 for other sources).",
    "budget",
)
EXPECTED_SPEND = FamilySpec(
    "budget_expected_spend",
    "Spend expected by the newest cost data: the purchases and fees counted at once so far, "
    "plus the rest of the limit spread evenly over the period, in currency. Exported only for "
    "a budget with such charges; for any other it is the limit spread evenly: budget_limit * "
    "on(budget) group_left() clamp((budget_data_as_of_timestamp_seconds - "
    "budget_period_start_timestamp_seconds) / (budget_period_end_timestamp_seconds - "
    "budget_period_start_timestamp_seconds), 0, 1), with the data-as-of time as its help "
    "derives it.",
    "budget",
    ("currency",),
)
SPEND_VARIANCE = FamilySpec(
    "budget_spend_variance",
    "Spend so far minus budget_expected_spend, in currency: positive is ahead of plan.",
    "budget",
    ("currency",),
    optional="variance_amounts",
)
SPEND_VARIANCE_RATIO = FamilySpec(
    "budget_spend_variance_ratio",
    "Spend so far against the spend expected for the elapsed share of the period, as "
    "a ratio: 0.2 = 20% ahead of plan, -0.2 = 20% behind.",
    "budget",
    optional="variance_amounts",
)
VARIANCE_CATEGORY = FamilySpec(
    "budget_variance_category",
    "The variance category the budget is in, as the category label (always 1; one series "
    "per budget): under, on_track, slightly_over or over (thresholds in the config).",
    "budget",
    ("category",),
)
IDEAL_DAILY_SPEND = FamilySpec(
    "budget_ideal_daily_spend",
    "Spend per day that ends the period exactly at the limit from the newest cost "
    "data, in currency; 0 when nothing remains: budget_remaining over the days from "
    "budget_data_as_of_timestamp_seconds to budget_period_end_timestamp_seconds. Compare "
    "with the recent daily spend.",
    "budget",
    ("currency",),
    optional="derived_rates",
)
RECOMMENDATION = FamilySpec(
    "budget_recommendation",
    "Present while a recommendation stands; the value is what triggered it: the pace "
    "over the ideal daily rate (reduce_pace), or the share of the budget's spend of "
    "one dimension value (review_resource, review_owner).",
    "budget",
    ("recommendation", "dimension", "value"),
)
WEEKDAY_BURN_RATE = FamilySpec(
    "budget_weekday_burn_rate",
    "Mean spend of each weekday over recent weeks divided by the ideal daily spend "
    "of the limit: above 1 that weekday spends faster than the budget allows.",
    "budget",
    ("weekday",),
    optional="weekday_pattern",
)
DAILY_SPEND_TREND = FamilySpec(
    "budget_daily_spend_trend",
    "Change of daily spend per day over recent weeks (least-squares slope), in "
    "currency; read it with budget_daily_spend_trend_p_value.",
    "budget",
    ("currency",),
    optional="trend",
)
DAILY_SPEND_TREND_P_VALUE = FamilySpec(
    "budget_daily_spend_trend_p_value",
    "Probability of a slope this steep if daily spend had no trend; below 0.05 the "
    "trend is significant.",
    "budget",
    optional="trend",
)

FAMILIES = (
    BASE_AMOUNT,
    ROLLOVER_AMOUNT,
    AMOUNT_SOURCE,
    AMOUNT_SOURCE_PERIODS,
    EXPECTED_SPEND,
    SPEND_VARIANCE,
    SPEND_VARIANCE_RATIO,
    VARIANCE_CATEGORY,
    IDEAL_DAILY_SPEND,
    RECOMMENDATION,
    WEEKDAY_BURN_RATE,
    DAILY_SPEND_TREND,
    DAILY_SPEND_TREND_P_VALUE,
)


def insights_families(snapshot: Snapshot) -> Iterator[Metric]:
    """Amount plan, variance, recommendation, weekday and trend families."""
    f = new_families(FAMILIES, snapshot.series)
    currency = snapshot.currency
    for entry in snapshot.budgets:
        base = {"budget": entry.status.name, **entry.labels}
        money = {**base, "currency": currency}
        plan = entry.plan
        # A fixed amount without rollover is its limit: nothing more to say, for a series each.
        if plan is not None and (plan.source is not AmountSource.FIXED or plan.rolls_over):
            f[BASE_AMOUNT].add(money, plan.base)
            f[ROLLOVER_AMOUNT].add(money, plan.rollover)
            # Only the state in force: a series per possible state would mostly hold zeros,
            # and users pay per series.
            f[AMOUNT_SOURCE].add({**base, "source": plan.source.value}, 1)
            f[AMOUNT_SOURCE_PERIODS].add(base, plan.periods_used)
        insights = entry.insights
        if insights is None:
            continue
        variance = insights.variance
        status = entry.status
        # The even spread is what PromQL computes from the limit and the period's timestamps.
        if variance.expected != status.limit * status.period.elapsed_ratio(status.as_of):
            f[EXPECTED_SPEND].add(money, variance.expected)
        f[SPEND_VARIANCE].add(money, variance.amount)
        f[SPEND_VARIANCE_RATIO].add(base, variance.ratio)
        f[VARIANCE_CATEGORY].add({**base, "category": variance.category.value}, 1)
        f[IDEAL_DAILY_SPEND].add(money, insights.ideal_daily_spend)
        for item in insights.recommendations:
            labels = {
                **base,
                "recommendation": item.kind.value,
                "dimension": item.dimension,
                "value": item.value,
            }
            f[RECOMMENDATION].add(labels, item.measured)
        pattern = insights.pattern
        if pattern is not None:
            for weekday, burn in pattern.weekday_burn_rates.items():
                f[WEEKDAY_BURN_RATE].add({**base, "weekday": weekday}, burn)
            f[DAILY_SPEND_TREND].add(money, pattern.trend_slope)
            f[DAILY_SPEND_TREND_P_VALUE].add(base, pattern.trend_p_value)
    yield from exposed(f)
