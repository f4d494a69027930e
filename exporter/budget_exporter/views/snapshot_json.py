"""Snapshot -> plain JSON-ready dicts, the one shape behind the JSON API and the CLI report.

Times are ISO 8601 in UTC; money is in the snapshot's currency. The shapes are documented in
``openapi.yml`` next to this module.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from ..evaluation.snapshot import BudgetEntry, SloEntry, Snapshot
from ..money.forecast import MIN_REPORTED_ORIGINS, Forecast
from ..slo.analytics import SloAnalytics


def _time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _number(value: float | None) -> float | None:
    # JSON has no NaN or infinity: an undefined figure is null.
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return float(value)


def budget_json(entry: BudgetEntry, currency: str) -> dict[str, Any]:
    """One budget's figures."""
    status = entry.status
    forecast = entry.forecast
    insights = entry.insights
    plan = entry.plan
    return {
        "name": status.name,
        "labels": dict(entry.labels),
        "provider": entry.provider,
        "parent": entry.parent,
        "currency": currency,
        "period": {
            "kind": status.period.kind.value,
            "key": status.period.key,
            "start": _time(status.period.start),
            "end": _time(status.period.end),
            "elapsed_ratio": _number(status.elapsed_ratio),
        },
        "limit": _number(status.limit),
        "spend": _number(status.spend),
        "remaining": _number(status.remaining),
        "utilization": _number(status.utilization),
        "average_daily_spend": _number(status.average_daily_spend),
        "burn_rates": {window: _number(rate) for window, rate in status.burn_rates.items()},
        "projected_exhaustion": {
            "pace": _time(status.projected_exhaustion),
            "forecast": _time(forecast.exhaustion) if forecast is not None else None,
        },
        "thresholds": {
            severity: {"ratio": ratio, "reached": status.threshold_reached(severity)}
            for severity, ratio in status.thresholds.items()
        },
        "data_as_of": _time(status.as_of),
        "amount": (
            {
                "base": _number(plan.base),
                "rollover": _number(plan.rollover),
                "source": plan.source.value,
                "periods_used": plan.periods_used,
            }
            if plan is not None
            else None
        ),
        "forecast": _forecast_json(forecast) if forecast is not None else None,
        "variance": (
            {
                "expected": _number(insights.variance.expected),
                "amount": _number(insights.variance.amount),
                "ratio": _number(insights.variance.ratio),
                "category": insights.variance.category.value,
            }
            if insights is not None
            else None
        ),
        "ideal_daily_spend": _number(insights.ideal_daily_spend) if insights else None,
        "recommendations": [
            {
                "recommendation": item.kind.value,
                "dimension": item.dimension,
                "value": item.value,
                "measured": _number(item.measured),
                "threshold": _number(item.threshold),
                "message": item.message,
            }
            for item in (insights.recommendations if insights is not None else ())
        ],
        "breakdown": {
            dimension: [{"value": value, "spend": _number(amount)} for value, amount in values]
            for dimension, values in status.breakdown.items()
        },
        # Purchases and fees counted at once: in the spend, not in the pace.
        "step_spend": _number(status.step_spend),
        "anomaly": _anomaly_json(entry),
    }


def _anomaly_json(entry: BudgetEntry) -> dict[str, Any] | None:
    forecast = entry.forecast
    score = forecast.anomaly_score if forecast is not None else None
    found = entry.anomaly_contributor
    if score is None and found is None:
        return None
    return {
        "score": _number(score),
        "contributor": (
            {
                "dimension": found.dimension,
                "value": found.value,
                "score": _number(found.anomaly.score),
                "spend": _number(found.anomaly.spend),
                "usual_spend": _number(found.anomaly.usual),
            }
            if found is not None
            else None
        ),
    }


def _forecast_json(forecast: Forecast) -> dict[str, Any]:
    choice = forecast.choice
    return {
        "method": forecast.method,
        "mean": _number(forecast.mean),
        "bounds": {name: _number(value) for name, value in forecast.bounds.items()},
        "overrun_probability": _number(forecast.overrun_probability),
        "choice": {
            "reason": choice.reason,
            "candidates": {name: _number(score) for name, score in choice.scores.items()},
            "origins": choice.origins,
            "level_shift_days": choice.shift_days,
        },
        "accuracy": {
            "backtest_mape": _number(forecast.backtest_mape),
            "coverage": {level: _number(value) for level, value in forecast.coverage.items()},
            "held_out_origins": choice.held_out,
            "note": (
                None
                if forecast.backtest_mape is not None
                else f"withheld: {choice.held_out} independent held-out origins, "
                f"{MIN_REPORTED_ORIGINS} needed"
            ),
        },
    }


def slo_json(entry: SloEntry) -> dict[str, Any]:
    """One SLO's figures."""
    status = entry.status
    return {
        "name": status.name,
        "labels": dict(entry.labels),
        "provider": entry.provider,
        "period": entry.period,
        "objective": _number(status.objective),
        "window_start": _time(status.window_start),
        "window_end": _time(status.window_end),
        "error_budget_seconds": _number(status.budget_seconds),
        "consumed_seconds": _number(status.consumed_seconds),
        "remaining_seconds": _number(status.remaining_seconds),
        "consumed_ratio": _number(status.consumed_ratio),
        "burn_rates": {window: _number(rate) for window, rate in status.burn_rates.items()},
        "projected_exhaustion": {
            method: _time(moment) for method, moment in status.exhaustion.items()
        },
        "exhaustion_probability": {
            horizon: _number(value) for horizon, value in status.exhaustion_probability.items()
        },
        "open_incidents": status.open_incidents,
        "window_incidents": status.window_incidents,
        "consumed_by_category": [
            {"category": category, "seconds": _number(seconds)}
            for category, seconds in status.consumed_by_category
        ],
        "data_as_of": _time(status.as_of),
        "analytics": _analytics_json(entry.analytics),
    }


def _analytics_json(found: SloAnalytics | None) -> dict[str, Any] | None:
    if found is None:
        return None
    trend = found.trend
    return {
        "days": found.days,
        "daily_burn_rate": {
            "mean": _number(found.mean_burn_rate),
            "p95": _number(found.p95_burn_rate),
        },
        "anomalous_days": [
            {
                "day": item.day.isoformat(),
                "bad_seconds": _number(item.bad_seconds),
                "z_score": _number(item.z_score),
            }
            for item in found.anomalous_days
        ],
        "weekday_burn_rates": {
            day: _number(rate) for day, rate in found.weekday_burn_rates.items()
        },
        "trend": (
            {"seconds_per_day": _number(trend.slope), "p_value": _number(trend.p_value)}
            if trend is not None
            else None
        ),
        "advice": found.advice.value,
        "exhaustion_probability": _number(found.probability),
        "horizon": found.horizon,
    }


def snapshot_json(snapshot: Snapshot) -> dict[str, Any]:
    """Every budget and SLO of a snapshot."""
    return {
        "taken_at": _time(snapshot.taken_at),
        "currency": snapshot.currency,
        "exchange_rates": dict(snapshot.exchange_rates),
        "budgets": [budget_json(entry, snapshot.currency) for entry in snapshot.budgets],
        "slos": [slo_json(entry) for entry in snapshot.slos],
        # Not in the API's budget bodies: one figure per job, read by reservations and jobs.
        "job_spend": {
            entry.status.name: dict(entry.job_spend)
            for entry in snapshot.budgets
            if entry.job_spend
        },
    }


LISTINGS = ("budgets", "slos")  # the API routes whose bodies are rendered once per snapshot


def _compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def listing_bodies(data: dict[str, Any]) -> dict[str, str]:
    """The bodies of ``/api/v1/budgets`` and ``/api/v1/slos`` for a snapshot's JSON view."""
    common = {"taken_at": data["taken_at"], "currency": data["currency"]}
    return {kind: _compact({**common, kind: data[kind]}) for kind in LISTINGS}


def render_json(snapshot: Snapshot) -> bytes:
    """The snapshot as compact JSON bytes, published next to the exposition.

    Under ``listings`` it carries the API's list bodies already serialised, so a worker
    serves them as bytes instead of encoding every budget on each request.
    """
    data = snapshot_json(snapshot)
    return _compact({**data, "listings": listing_bodies(data)}).encode()
