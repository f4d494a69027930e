"""Forecast metric families of a snapshot.

Sample of the exposition::

    # HELP budget_forecast_overrun_probability Probability that spend ends the period above ...
    # TYPE budget_forecast_overrun_probability gauge
    budget_forecast_overrun_probability{budget="platform",method="ets",team="platform"} 0.07

The forecast-based exhaustion time is a ``method="forecast"`` sample of
``budget_projected_exhaustion_timestamp_seconds``, added where the pace-based one is.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from ..evaluation.snapshot import Snapshot


def _family(name: str, documentation: str) -> Metric:
    return Metric(name, documentation, "gauge")


def forecast_families(snapshot: Snapshot) -> Iterator[Metric]:
    """Forecast, calibration and anomaly families, one sample set per budget with a forecast."""
    spend = _family(
        "budget_forecast_spend",
        "Forecast spend at the end of the current period, in currency: the mean and the 80% and "
        "95% interval bounds. Compare upper_80 with budget_limit to act before an overrun.",
    )
    overrun = _family(
        "budget_forecast_overrun_probability",
        "Probability (0 to 1) that spend ends the current period above the limit, from the "
        "calibrated forecast; alert when it stays high.",
    )
    horizon = _family(
        "budget_forecast_horizon_spend",
        "Expected total spend over the next 30 or 90 days from the newest cost data, in "
        "currency, for capacity planning whatever the budget period.",
    )
    mape = _family(
        "budget_forecast_backtest_mape",
        "Mean absolute percentage error (as a ratio) of the period-total forecast measured on "
        "this budget's own history; above 0.1, read the forecast as a rough guide only.",
    )
    coverage = _family(
        "budget_forecast_interval_coverage",
        "Share of past period totals that fell inside the calibrated interval of this level, "
        "measured on held-out history; far below level means the intervals are too narrow.",
    )
    anomaly = _family(
        "budget_cost_anomaly_score",
        "Spend of the newest complete day against the median of the same weekday in recent "
        "weeks, in robust standard deviations; above 4 is unusual spend worth a look. The "
        "budget total only: see budget_cost_anomaly_score_by_dimension for its breakdown.",
    )
    anomaly_by_value = _family(
        "budget_cost_anomaly_score_by_dimension",
        "The anomaly score of budget_cost_anomaly_score for one top value of the budget's "
        "breakdown dimension, to find which value drove a spike of the total.",
    )
    currency = snapshot.currency
    for entry in snapshot.budgets:
        forecast = entry.forecast
        if forecast is None:
            continue
        base = {"budget": entry.status.name, **entry.labels}
        method = {**base, "method": forecast.method}
        money = {**method, "currency": currency}
        spend.add_sample(spend.name, {**money, "bound": "mean"}, forecast.mean)
        for bound, value in forecast.bounds.items():
            spend.add_sample(spend.name, {**money, "bound": bound}, value)
        overrun.add_sample(overrun.name, method, forecast.overrun_probability)
        for name, value in forecast.horizons.items():
            horizon.add_sample(horizon.name, {**money, "horizon": name}, value)
        if forecast.backtest_mape is not None:
            mape.add_sample(mape.name, method, forecast.backtest_mape)
        for level, value in forecast.coverage.items():
            coverage.add_sample(coverage.name, {**method, "level": level}, value)
        if forecast.anomaly_score is not None:
            anomaly.add_sample(anomaly.name, base, forecast.anomaly_score)
        for dimension, scores in forecast.value_anomaly_scores.items():
            for top_value, score in scores.items():
                labels = {**base, "dimension": dimension, "value": top_value}
                anomaly_by_value.add_sample(anomaly_by_value.name, labels, score)
    yield from (spend, overrun, horizon, mape, coverage, anomaly, anomaly_by_value)
