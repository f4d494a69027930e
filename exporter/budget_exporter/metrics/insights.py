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
from ..money.insights import VarianceCategory
from ..money.planning import AmountSource


def _family(name: str, documentation: str) -> Metric:
    return Metric(name, documentation, "gauge")


def insights_families(snapshot: Snapshot) -> Iterator[Metric]:
    """Amount plan, variance, recommendation, weekday and trend families."""
    f = {
        "base": _family(
            "budget_base_amount",
            "This period's own amount before rollover, in currency: fixed, planned for the "
            "period, or derived from earlier periods (see budget_amount_source).",
        ),
        "rollover": _family(
            "budget_rollover_amount",
            "Unused money of the previous period carried into this one (capped), in currency; "
            "budget_limit is budget_base_amount plus this.",
        ),
        "source": _family(
            "budget_amount_source",
            "1 for where this period's amount comes from: fixed, planned, initial, "
            "trailing_average, last_period or forecast; derived amounts change at period start.",
        ),
        "periods": _family(
            "budget_amount_source_periods",
            "Earlier periods an auto-adjusting amount was derived from (0 for other sources).",
        ),
        "expected": _family(
            "budget_expected_spend",
            "Spend expected by the newest cost data if the limit were spent evenly over the "
            "period, in currency.",
        ),
        "variance": _family(
            "budget_spend_variance",
            "Spend so far minus budget_expected_spend, in currency: positive is ahead of plan.",
        ),
        "variance_ratio": _family(
            "budget_spend_variance_ratio",
            "Spend so far against the spend expected for the elapsed share of the period, as "
            "a ratio: 0.2 = 20% ahead of plan, -0.2 = 20% behind.",
        ),
        "category": _family(
            "budget_variance_category",
            "1 for the variance category the budget is in (under, on_track, slightly_over, "
            "over; thresholds in the config), 0 for the others.",
        ),
        "ideal": _family(
            "budget_ideal_daily_spend",
            "Spend per day that ends the period exactly at the limit from the newest cost "
            "data, in currency; 0 when nothing remains. Compare with the recent daily spend.",
        ),
        "recommendation": _family(
            "budget_recommendation",
            "Present while a recommendation stands; the value is what triggered it: the pace "
            "over the ideal daily rate (reduce_pace), or the share of the budget's spend of "
            "one dimension value (review_resource, review_owner).",
        ),
        "weekday": _family(
            "budget_weekday_burn_rate",
            "Mean spend of each weekday over recent weeks divided by the ideal daily spend "
            "of the limit: above 1 that weekday spends faster than the budget allows.",
        ),
        "trend": _family(
            "budget_daily_spend_trend",
            "Change of daily spend per day over recent weeks (least-squares slope), in "
            "currency; read it with budget_daily_spend_trend_p_value.",
        ),
        "p_value": _family(
            "budget_daily_spend_trend_p_value",
            "Probability of a slope this steep if daily spend had no trend; below 0.05 the "
            "trend is significant.",
        ),
    }
    currency = snapshot.currency
    for entry in snapshot.budgets:
        base = {"budget": entry.status.name, **entry.labels}
        money = {**base, "currency": currency}
        if entry.plan is not None:
            plan = entry.plan
            f["base"].add_sample("budget_base_amount", money, plan.base)
            f["rollover"].add_sample("budget_rollover_amount", money, plan.rollover)
            for source in AmountSource:
                labels = {**base, "source": source.value}
                f["source"].add_sample("budget_amount_source", labels, float(source is plan.source))
            f["periods"].add_sample("budget_amount_source_periods", base, plan.periods_used)
        insights = entry.insights
        if insights is None:
            continue
        variance = insights.variance
        f["expected"].add_sample("budget_expected_spend", money, variance.expected)
        f["variance"].add_sample("budget_spend_variance", money, variance.amount)
        f["variance_ratio"].add_sample("budget_spend_variance_ratio", base, variance.ratio)
        for category in VarianceCategory:
            labels = {**base, "category": category.value}
            value = float(category is variance.category)
            f["category"].add_sample("budget_variance_category", labels, value)
        f["ideal"].add_sample("budget_ideal_daily_spend", money, insights.ideal_daily_spend)
        for item in insights.recommendations:
            labels = {
                **base,
                "recommendation": item.kind.value,
                "dimension": item.dimension,
                "value": item.value,
            }
            f["recommendation"].add_sample("budget_recommendation", labels, item.measured)
        pattern = insights.pattern
        if pattern is not None:
            for weekday, burn in pattern.weekday_burn_rates.items():
                labels = {**base, "weekday": weekday}
                f["weekday"].add_sample("budget_weekday_burn_rate", labels, burn)
            f["trend"].add_sample("budget_daily_spend_trend", money, pattern.trend_slope)
            f["p_value"].add_sample("budget_daily_spend_trend_p_value", base, pattern.trend_p_value)
    yield from f.values()
    rate = _family(
        "budget_exchange_rate",
        "Exchange rate in force from the config: one unit of source_currency is worth this "
        "much of the reporting currency. Rows of each month convert at that month's rate.",
    )
    for code, value in sorted(snapshot.exchange_rates.items()):
        rate.add_sample(
            "budget_exchange_rate", {"source_currency": code, "currency": currency}, value
        )
    yield rate
