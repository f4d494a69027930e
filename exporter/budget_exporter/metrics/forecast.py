"""Forecast metric families of a snapshot.

Sample of the exposition::

    # HELP budget_forecast_overrun_probability Probability that spend ends the period above ...
    # TYPE budget_forecast_overrun_probability gauge
    budget_forecast_overrun_probability{budget="platform",method="ets",team="platform"} 0.07

``method`` names the candidate the backtest chose for the budget (``run_rate``,
``trailing_mean_7d``, ``trailing_mean_28d``, ``ets_no_season`` or ``ets``); why it was chosen
is in the JSON API. The forecast-based exhaustion time is a ``method="forecast"`` sample of
``budget_projected_exhaustion_timestamp_seconds``, added where the pace-based one is.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from ..evaluation.snapshot import Snapshot
from ..model.metric_family import FamilySpec
from .family import exposed, new_families, switched_on

SPEND = FamilySpec(
    "budget_forecast_spend",
    "Forecast spend at the end of the current period, in currency: the mean and the 80% and "
    "95% interval bounds. Compare upper_80 with budget_limit to act before an overrun.",
    "budget",
    ("method", "currency", "bound"),
)
OVERRUN_PROBABILITY = FamilySpec(
    "budget_forecast_overrun_probability",
    "Probability (0 to 1) that spend ends the current period above the limit, from the "
    "calibrated forecast; alert when it stays high.",
    "budget",
    ("method",),
)
HORIZON_SPEND = FamilySpec(
    "budget_forecast_horizon_spend",
    "Expected total spend over the next 30 or 90 days from the newest cost data, in "
    "currency, for capacity planning whatever the budget period.",
    "budget",
    ("method", "currency", "horizon"),
    optional="forecast_horizons",
)
BACKTEST_MAPE = FamilySpec(
    "budget_forecast_backtest_mape",
    "Mean absolute percentage error (as a ratio) of the period-total forecast on held-out "
    "windows of this budget's history seen at the current elapsed point: |forecast - "
    "actual total| / actual total, as a user checks it after the fact. Absent while too few "
    "independent windows are held out; above 0.1, read the forecast as a rough guide only.",
    "budget",
    ("method",),
)
INTERVAL_COVERAGE = FamilySpec(
    "budget_forecast_interval_coverage",
    "Share of held-out period totals (seen at the current elapsed point) that fell inside the "
    "interval of this level calibrated on older windows only; far below level means the "
    "intervals are too narrow. Absent while too few independent windows are held out.",
    "budget",
    ("method", "level"),
)
ANOMALY_SCORE = FamilySpec(
    "budget_cost_anomaly_score",
    "Usage spend of the newest complete day against the median of the same weekday in "
    "recent weeks, in robust standard deviations (at least 5% of the usual daily spend), "
    "capped at +-100; above 4 is unusual spend worth a look. Purchases and fees counted at "
    "once are left out. See budget_cost_anomaly_score_by_dimension for its breakdown.",
    "budget",
)
ANOMALY_SCORE_BY_DIMENSION = FamilySpec(
    "budget_cost_anomaly_score_by_dimension",
    "The anomaly score of budget_cost_anomaly_score for one top value of the budget's "
    "breakdown dimension, to find which value drove a spike of the total.",
    "budget",
    ("dimension", "value"),
    optional="anomaly_by_dimension",
)

FAMILIES = (
    SPEND,
    OVERRUN_PROBABILITY,
    HORIZON_SPEND,
    BACKTEST_MAPE,
    INTERVAL_COVERAGE,
    ANOMALY_SCORE,
    ANOMALY_SCORE_BY_DIMENSION,
)


def forecast_families(snapshot: Snapshot) -> Iterator[Metric]:
    """Forecast, calibration and anomaly families, one sample set per budget with a forecast."""
    f = new_families(FAMILIES, snapshot.series)
    wide = switched_on("forecast_95", snapshot.series)
    currency = snapshot.currency
    for entry in snapshot.budgets:
        forecast = entry.forecast
        if forecast is None:
            continue
        base = {"budget": entry.status.name, **entry.labels}
        method = {**base, "method": forecast.method}
        money = {**method, "currency": currency}
        f[SPEND].add({**money, "bound": "mean"}, forecast.mean)
        for bound, value in forecast.bounds.items():
            if bound.endswith("_95") and not wide:
                continue  # the 95% bounds are optional (series: forecast_95)
            f[SPEND].add({**money, "bound": bound}, value)
        f[OVERRUN_PROBABILITY].add(method, forecast.overrun_probability)
        for name, value in forecast.horizons.items():
            f[HORIZON_SPEND].add({**money, "horizon": name}, value)
        if forecast.backtest_mape is not None:
            f[BACKTEST_MAPE].add(method, forecast.backtest_mape)
        for level, value in forecast.coverage.items():
            f[INTERVAL_COVERAGE].add({**method, "level": level}, value)
        if forecast.anomaly_score is not None:
            f[ANOMALY_SCORE].add(base, forecast.anomaly_score)
        for dimension, scores in forecast.value_anomaly_scores.items():
            for top_value, score in scores.items():
                labels = {**base, "dimension": dimension, "value": top_value}
                f[ANOMALY_SCORE_BY_DIMENSION].add(labels, score)
    yield from exposed(f)
