"""Planning and insights applied to one budget's cost data: the glue between config and maths.

Pure apart from the daily-spend cache: the cost index and ``now`` come in, figures go out.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from ..config.schema import BudgetConfig, Config
from ..model.periods import Period, period_containing
from ..money.budgets import (
    BudgetSpec,
    BudgetStatus,
    CostIndex,
    budget_mask,
    daily_spend,
    spend_between,
)
from ..money.insights import BudgetInsights, budget_insights
from ..money.planning import PlannedAmount, amount_in_force
from .forecast_cache import MAX_FITS_PER_EVALUATION

_NS = 1_000_000_000


def with_insight_dimensions(
    config: Config, budget: BudgetConfig, spec: BudgetSpec, index: CostIndex
) -> BudgetSpec:
    """The spec with the recommendation dimensions added to its breakdown (those in the data)."""
    insights = config.insights_for(budget)
    wanted = [*insights.resource.dimensions, *insights.owner.dimensions]
    extra = tuple(
        dimension
        for dimension in wanted
        if dimension not in spec.breakdown_dimensions and index.has_column(dimension)
    )
    if not extra:
        return spec
    return dataclasses.replace(
        spec, breakdown_dimensions=tuple(dict.fromkeys((*spec.breakdown_dimensions, *extra)))
    )


def plan_amount(
    budget: BudgetConfig, spec: BudgetSpec, index: CostIndex, now: datetime, zone: ZoneInfo
) -> PlannedAmount | None:
    """The amount in force for the period containing ``now``; None when none can be derived."""
    period = period_containing(spec.period, now, zone, spec.calendar)
    plan = budget.amount_plan()
    if plan.auto is None and plan.rollover_max is None:
        # Fixed and planned amounts need no history: skip the mask, costly with many budgets.
        return amount_in_force(plan, period, lambda _: 0.0, None)
    mask = budget_mask(index, spec)
    starts = index.starts[mask]
    data_start = float(starts.min()) / _NS if starts.size else None

    def spend_of(earlier: Period) -> float:
        return spend_between(index, mask, earlier.start, earlier.end)

    return amount_in_force(plan, period, spend_of, data_start)


class PatternCache:
    """Daily spend per budget, read again only when the newest data reaches a new day.

    Like forecast fits, reads are capped per evaluation so that thousands of budgets do not
    block the first one; the rest keep their previous days (or no pattern) until their turn.
    """

    def __init__(self, max_reads_per_evaluation: int = MAX_FITS_PER_EVALUATION) -> None:
        self.max_reads = max_reads_per_evaluation
        self._reads_left = max_reads_per_evaluation
        self._entries: dict[str, tuple[date, list[date], np.ndarray]] = {}

    def begin(self) -> None:
        """Start an evaluation: allow another round of reads."""
        self._reads_left = self.max_reads

    def daily(
        self, spec: BudgetSpec, index: CostIndex, status: BudgetStatus, zone: ZoneInfo, weeks: int
    ) -> tuple[list[date], np.ndarray]:
        """Complete local days before the day of ``status.as_of`` (``weeks`` weeks at most)."""
        origin = status.as_of.astimezone(zone).date()
        key = repr(
            (spec.name, sorted(spec.filter.items()), sorted(spec.excluded_categories), weeks)
        )
        cached = self._entries.get(key)
        if cached is not None and (cached[0] == origin or self._reads_left <= 0):
            return cached[1], cached[2]
        if self._reads_left <= 0:
            return [], np.zeros(0)
        self._reads_left -= 1
        mask = budget_mask(index, spec)
        series = daily_spend(index, mask, origin - timedelta(days=7 * weeks), origin, zone)
        days = [stamp.date() for stamp in series.index]
        values = series.to_numpy(dtype=np.float64)
        self._entries[key] = (origin, days, values)
        return days, values


def insights_of(
    config: Config,
    budget: BudgetConfig,
    spec: BudgetSpec,
    status: BudgetStatus,
    index: CostIndex,
    cache: PatternCache | None,
) -> BudgetInsights:
    """Variance, recommendations and the daily pattern of one evaluated budget."""
    settings = config.insights_for(budget)
    days, values = (cache or PatternCache()).daily(spec, index, status, config.zone, settings.weeks)
    return budget_insights(status, settings, days, values, filtered=tuple(spec.filter))
