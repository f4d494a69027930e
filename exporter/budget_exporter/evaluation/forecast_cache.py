"""Fitted forecast models per budget, refit at most once per new day of cost data."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from ..money.anomaly import (
    SEASON,
    WEEKS,
    AnomalyContributor,
    top_contributor,
    weekday_anomaly,
)
from ..money.budgets import (
    NONE_VALUE,
    OTHER,
    BudgetSpec,
    BudgetStatus,
    CostIndex,
    budget_mask,
    daily_spend,
    recurring_steps_to_come,
)
from ..money.forecast import HISTORY_DAYS, DailyModel, Forecast, fit_daily_model, forecast_period

# A first evaluation of thousands of budgets would block for minutes if every model were fit
# at once; the rest are fit in the following evaluations (their forecast is absent until then).
MAX_FITS_PER_EVALUATION = 1000
# A model serves at most this many days past its origin (a refit pending, or cost data that
# stopped before the period began); older ones would forecast from a stale level.
MAX_STALE_DAYS = 7
# The anomaly score of a breakdown value reads ~13 weeks of residuals plus 8 weeks before them.
VALUE_HISTORY_DAYS = 91 + (WEEKS + 1) * SEASON


@dataclasses.dataclass(frozen=True)
class _Entry:
    origin: date
    model: DailyModel | None
    value_scores: Mapping[str, Mapping[str, float]]
    contributor: AnomalyContributor | None = None


class ForecastCache:
    """Models keyed by budget, each with the first day it forecasts (its origin).

    A model is refit when the newest cost data reaches a new day; in between, an evaluation only
    adds the spend to date to the cached model's forecast, which costs microseconds.
    """

    def __init__(self, max_fits_per_evaluation: int = MAX_FITS_PER_EVALUATION):
        self.max_fits = max_fits_per_evaluation
        self._entries: dict[str, _Entry] = {}
        self._fits_left = max_fits_per_evaluation
        self.fits = 0
        # Budgets of this evaluation left without a model because the fits ran out.
        self.waiting: list[str] = []

    def begin(self) -> None:
        """Start an evaluation: allow another round of fits."""
        self._fits_left = self.max_fits
        self.waiting = []

    def models(self) -> list[DailyModel | None]:
        """The cached models, for inspection and benchmarks."""
        return [entry.model for entry in self._entries.values()]

    def forecast(
        self,
        spec: BudgetSpec,
        index: CostIndex,
        status: BudgetStatus,
        zone: ZoneInfo,
        data_end: datetime | None = None,
    ) -> Forecast | None:
        """The budget's forecast at ``status.as_of``, fitting its model first if a day passed.

        The model's history ends at ``data_end`` (the newest cost data) when that is older than
        ``status.as_of``, which never starts before the period: later days are unknown, not zero.
        """
        newest = min(status.as_of, data_end) if data_end is not None else status.as_of
        origin = newest.astimezone(zone).date()
        key = _key(spec)
        entry = self._entries.get(key)
        if (entry is None or entry.origin != origin) and self._fits_left > 0:
            self._fits_left -= 1
            self.fits += 1
            entry = self._fit(spec, index, status, zone, origin, entry)
            self._entries[key] = entry
        elif entry is None:
            self.waiting.append(spec.name)
        if entry is None or entry.model is None:
            return None
        if (status.as_of.astimezone(zone).date() - entry.model.origin).days > MAX_STALE_DAYS:
            return None
        # The model knows usage only; recurring purchases and fees still to come this period
        # are known steps on top of the spend to date.
        mask = budget_mask(index, spec)
        known = status.spend + recurring_steps_to_come(
            index, mask, status.period, status.as_of, zone
        )
        result = forecast_period(
            entry.model, known, status.limit, status.as_of, status.period.end, zone
        )
        if status.spend >= status.limit:
            # Already reached: both methods report when it happened.
            result = dataclasses.replace(result, exhaustion=status.projected_exhaustion)
        return dataclasses.replace(result, value_anomaly_scores=entry.value_scores)

    @staticmethod
    def _fit(
        spec: BudgetSpec,
        index: CostIndex,
        status: BudgetStatus,
        zone: ZoneInfo,
        origin: date,
        previous: _Entry | None,
    ) -> _Entry:
        # Usage only: purchases and fees counted at once are known steps, added through the
        # spend to date, never a pattern to extrapolate or an anomaly to report.
        mask = budget_mask(index, spec) & ~index.steps
        history = daily_spend(index, mask, origin - timedelta(days=HISTORY_DAYS), origin, zone)
        span = (
            status.period.start.astimezone(zone).date(),
            status.period.end.astimezone(zone).date(),
        )
        model = fit_daily_model(history, origin, spec.period, span)
        scores: dict[str, dict[str, float]] = {}
        candidates = []
        for dimension, values in status.breakdown.items():
            for value, _ in values:
                if value in (OTHER, NONE_VALUE):
                    continue
                rows = mask & index.matching(dimension, (value,))
                days = daily_spend(
                    index, rows, origin - timedelta(days=VALUE_HISTORY_DAYS), origin, zone
                )
                found = weekday_anomaly(np.asarray(days, dtype=np.float64))
                if found is not None:
                    scores.setdefault(dimension, {})[value] = found.score
                    candidates.append(AnomalyContributor(dimension, value, found))
        return _Entry(origin, model, scores, top_contributor(candidates))

    def anomaly_contributor(self, spec: BudgetSpec) -> AnomalyContributor | None:
        """The breakdown value that drove the budget's newest day, from its latest fit."""
        entry = self._entries.get(_key(spec))
        return entry.contributor if entry is not None else None


def _key(spec: BudgetSpec) -> str:
    # What decides the history: a budget whose filter changes gets a new model.
    return repr(
        (spec.name, spec.period, sorted(spec.filter.items()), sorted(spec.excluded_categories))
    )
