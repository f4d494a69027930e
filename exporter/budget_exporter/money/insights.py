"""Insights on a budget's numbers: variance, recommendations, weekday pattern and trend.

Pure: a budget's status and daily spend in, figures out. No I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import numpy as np

from ..model.statistics import MIN_PATTERN_DAYS, linear_trend, weekday_means
from .budgets import NONE_VALUE, OTHER, PERIOD_WINDOW, BudgetStatus
from .insights_config import InsightsConfig


class VarianceCategory(StrEnum):
    """Where spend stands against the expected spend for the elapsed share of the period."""

    UNDER = "under"
    ON_TRACK = "on_track"
    SLIGHTLY_OVER = "slightly_over"
    OVER = "over"


class RecommendationKind(StrEnum):
    """What a recommendation asks for (exported as the ``recommendation`` label)."""

    REDUCE_PACE = "reduce_pace"
    REVIEW_RESOURCE = "review_resource"
    REVIEW_OWNER = "review_owner"


@dataclass(frozen=True)
class Variance:
    """Spend against the expected spend to date."""

    expected: float  # limit times the elapsed share of the period, at the newest data
    amount: float  # spend minus expected; positive is over
    ratio: float  # amount over expected; 0 before anything is expected
    category: VarianceCategory


@dataclass(frozen=True)
class Recommendation:
    """One thing worth acting on, with the figure that triggered it."""

    kind: RecommendationKind
    dimension: str  # empty for the pace
    value: str
    measured: float  # pace over the ideal pace, or share of the budget's spend
    threshold: float
    message: str


@dataclass(frozen=True)
class DailyPattern:
    """Day-of-week means and the trend of daily spend over recent weeks."""

    weekday_burn_rates: Mapping[str, float]  # mean spend of that weekday over the ideal day
    trend_slope: float  # change of daily spend per day, in currency
    trend_p_value: float  # two-sided, for a slope of zero
    days: int


@dataclass(frozen=True)
class BudgetInsights:
    """Everything this module says about one budget."""

    variance: Variance
    recommendations: tuple[Recommendation, ...] = ()
    pattern: DailyPattern | None = None
    ideal_daily_spend: float = 0.0  # what may still be spent per day to end at the limit


def variance(
    spend: float,
    limit: float,
    elapsed_ratio: float,
    config: InsightsConfig,
    step_spend: float = 0.0,
) -> Variance:
    """Spend against the plan, categorized with the configured thresholds.

    The plan is the known steps already spent (purchases, fees counted at once) plus the rest
    of the limit spread evenly over the period: a planned purchase on the 1st is on plan.
    """
    expected = step_spend + max(limit - step_spend, 0.0) * elapsed_ratio
    amount = spend - expected
    ratio = amount / expected if expected > 0 else 0.0
    thresholds = config.variance
    if ratio > thresholds.over:
        category = VarianceCategory.OVER
    elif ratio > thresholds.slightly_over:
        category = VarianceCategory.SLIGHTLY_OVER
    elif ratio < -thresholds.under:
        category = VarianceCategory.UNDER
    else:
        category = VarianceCategory.ON_TRACK
    return Variance(expected, amount, ratio, category)


def ideal_daily_spend(remaining: float, seconds_left: float) -> float:
    """Spend per day that ends the period exactly at the limit; 0 when nothing remains."""
    if remaining <= 0:
        return 0.0
    if seconds_left <= 0:
        return remaining
    return remaining / (seconds_left / 86400)


def recommendations(
    status: BudgetStatus, config: InsightsConfig, filtered: Collection[str] = ()
) -> tuple[Recommendation, ...]:
    """Pace above the ideal daily rate, and one resource or owner above its share of spend.

    Dimensions in ``filtered`` (the budget's own filter keys) are skipped: a budget scoped to
    one service is all that service by design.
    """
    found: list[Recommendation] = []
    pace = status.burn_rates.get(PERIOD_WINDOW, 0.0)
    even = status.limit / (status.period.length_seconds / 86400)
    # The one ideal daily rate, as the JSON API and the report give it: what may still be
    # spent per day from the newest data to end the period at the limit.
    ideal = ideal_daily_spend(
        status.remaining, status.period.end.timestamp() - status.as_of.timestamp()
    )
    if pace > config.pace_factor:
        found.append(
            Recommendation(
                RecommendationKind.REDUCE_PACE,
                "",
                "",
                pace,
                config.pace_factor,
                f"spending at {pace:.2f}x the limit's even pace of {even:,.2f} a day; at most "
                f"{ideal:,.2f} a day from now ends the period within the limit",
            )
        )
    for kind, rule in (
        (RecommendationKind.REVIEW_RESOURCE, config.resource),
        (RecommendationKind.REVIEW_OWNER, config.owner),
    ):
        dimensions = [d for d in rule.dimensions if d not in filtered]
        found.extend(_shares(status, kind, dimensions, rule.share))
    return tuple(found)


def _shares(
    status: BudgetStatus, kind: RecommendationKind, dimensions: Sequence[str], limit: float
) -> list[Recommendation]:
    if status.spend <= 0:
        return []
    found = []
    what = "resource" if kind is RecommendationKind.REVIEW_RESOURCE else "owner"
    for dimension in dimensions:
        for value, amount in status.breakdown.get(dimension, ()):
            if value in (OTHER, NONE_VALUE):
                continue  # neither is one resource or one owner
            share = amount / status.spend
            if share > limit:
                found.append(
                    Recommendation(
                        kind,
                        dimension,
                        value,
                        share,
                        limit,
                        f"{what} {dimension}={value} is {share:.0%} of this budget's spend "
                        f"(above {limit:.0%}); review it first",
                    )
                )
    return found


def daily_pattern(
    days: Sequence[date], values: Sequence[float] | np.ndarray, ideal_daily: float
) -> DailyPattern | None:
    """Mean burn rate per weekday and the least-squares trend of daily spend.

    None with fewer than two weeks of days, or without a positive ideal daily spend.
    """
    if len(days) < MIN_PATTERN_DAYS or ideal_daily <= 0:
        return None
    burn = {weekday: mean / ideal_daily for weekday, mean in weekday_means(days, values).items()}
    trend = linear_trend(days, values)
    return DailyPattern(burn, trend.slope, trend.p_value, len(days))


def budget_insights(
    status: BudgetStatus,
    config: InsightsConfig,
    days: Sequence[date] = (),
    values: Sequence[float] | np.ndarray = (),
    filtered: Collection[str] = (),
) -> BudgetInsights:
    """Variance, recommendations and daily pattern of one budget's status."""
    elapsed = status.period.elapsed_ratio(status.as_of)
    ideal = status.limit / (status.period.length_seconds / 86400)
    return BudgetInsights(
        variance=variance(status.spend, status.limit, elapsed, config, status.step_spend),
        recommendations=recommendations(status, config, filtered),
        pattern=daily_pattern(days, values, ideal),
        ideal_daily_spend=ideal_daily_spend(
            status.remaining, status.period.end.timestamp() - status.as_of.timestamp()
        ),
    )
