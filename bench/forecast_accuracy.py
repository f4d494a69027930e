"""Accuracy of the period-total forecast on synthetic daily cost series with known futures.

Each series has a year of history (some only days, to exercise the run-rate fallback), then a
target month seen from a random day in it. Reports MAPE of the month total against the naive
run-rate (spend so far / days so far x days in month), coverage of the 80% and 95% intervals
(calibrated and with the model's own uncalibrated normal intervals), and the Brier score of the
overrun probability against a constant base rate and the naive yes/no projection.

Run: .venv/bin/python bench/forecast_accuracy.py [--series 300] [--seed 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from scipy import stats

from budget_exporter.model.periods import PeriodKind, period_containing
from budget_exporter.money.forecast import PROBS, fit_daily_model, forecast_period

UTC_ZONE = ZoneInfo("UTC")


@dataclasses.dataclass
class Case:
    """One synthetic series and the moment its month total is forecast."""

    history: pd.Series
    spend: float
    actual: float
    limit: float
    as_of: datetime
    period_end: datetime
    days_done: int
    days_in_month: int
    kind: str


def synthetic(rng: np.random.Generator, history_days: int) -> Case:
    """A daily cost series with trend, weekly season, noise, spikes, shifts and monthly fees."""
    month = pd.Timestamp("2026-01-01") + pd.DateOffset(months=int(rng.integers(0, 12)))
    days_in_month = month.days_in_month
    days_done = int(rng.integers(1, min(days_in_month, history_days + 1)))
    as_of_day = month + pd.Timedelta(days=days_done)
    start = as_of_day - pd.Timedelta(days=history_days)
    index = pd.date_range(start, month + pd.Timedelta(days=days_in_month - 1), freq="D")
    n = len(index)
    t = np.arange(n) / 365.0
    base = float(np.exp(rng.uniform(np.log(20), np.log(5000))))
    growth = rng.uniform(-0.3, 1.0)
    level = base * (1 + growth) ** (t - t[-1])
    weekend = rng.choice([1.0, rng.uniform(0.3, 0.95)])
    season = np.where(index.day_of_week >= 5, weekend, 1.0)
    values = level * season
    kinds = []
    if history_days > 60 and rng.random() < 0.3:  # a permanent level shift in the history
        at = int(rng.integers(n // 4, n - days_in_month))
        values[at:] *= rng.uniform(0.5, 2.0)
        kinds.append("shift")
    if rng.random() < 0.15:  # a step change inside the target month, unforeseeable
        at = n - days_in_month + int(rng.integers(0, days_in_month))
        values[at:] *= rng.uniform(0.7, 1.5)
        kinds.append("step")
    cv = rng.uniform(0.02, 0.25)
    values = values * np.clip(1 + rng.normal(0, cv, n), 0, None)
    spike_rate = rng.choice([0.0, rng.uniform(0.005, 0.05)])
    if spike_rate:
        spikes = rng.random(n) < spike_rate
        values[spikes] *= rng.uniform(2, 5, spikes.sum())
        kinds.append("spikes")
    if rng.random() < 0.25:  # a fixed fee on the first of each month
        values[index.day == 1] += base * rng.uniform(2, 20)
        kinds.append("fee")
    history = pd.Series(values[:history_days], index=index[:history_days])
    month_values = values[history_days - days_done :]
    spend = float(month_values[:days_done].sum())
    actual = float(month_values.sum())
    typical = float(values[max(history_days - 30, 0) : history_days].mean()) * days_in_month
    limit = typical * rng.uniform(0.85, 1.2)
    as_of = as_of_day.to_pydatetime().replace(tzinfo=UTC)
    period = period_containing(PeriodKind.MONTHLY, as_of, UTC_ZONE)
    return Case(
        history,
        spend,
        actual,
        limit,
        as_of,
        period.end,
        days_done,
        days_in_month,
        "+".join(kinds) or "plain",
    )


def main() -> None:
    """Run the backtest set and print the table written down in bench/README.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = []
    started = time.perf_counter()
    for i in range(args.series):
        # Every tenth series is a budget whose data began this month: too short for the model.
        short = i % 10 == 0
        case = synthetic(rng, int(rng.integers(2, 14)) if short else 365)
        model = fit_daily_model(case.history, case.as_of.date(), PeriodKind.MONTHLY)
        assert model is not None
        forecast = forecast_period(
            model, case.spend, case.limit, case.as_of, case.period_end, UTC_ZONE
        )
        normal = dataclasses.replace(model, quantiles=stats.norm.ppf(PROBS))
        plain = forecast_period(
            normal, case.spend, case.limit, case.as_of, case.period_end, UTC_ZONE
        )
        naive = case.spend / case.days_done * case.days_in_month
        b, u = forecast.bounds, plain.bounds
        rows.append(
            {
                "method": model.method,
                "kind": case.kind,
                "ape": abs(forecast.mean - case.actual) / case.actual,
                "naive_ape": abs(naive - case.actual) / case.actual,
                "in80": b["lower_80"] <= case.actual <= b["upper_80"],
                "in95": b["lower_95"] <= case.actual <= b["upper_95"],
                "raw80": u["lower_80"] <= case.actual <= u["upper_80"],
                "raw95": u["lower_95"] <= case.actual <= u["upper_95"],
                "p": forecast.overrun_probability,
                "naive_p": float(naive > case.limit),
                "over": float(case.actual > case.limit),
                "backtest_mape": model.backtest_mape,
                "reported80": model.coverage.get("0.8"),
                "reported95": model.coverage.get("0.95"),
            }
        )
    elapsed = time.perf_counter() - started
    frame = pd.DataFrame(rows)
    base_rate = frame["over"].mean()

    def summary(part: pd.DataFrame) -> dict[str, float]:
        return {
            "series": len(part),
            "MAPE": part["ape"].mean(),
            "naive MAPE": part["naive_ape"].mean(),
            "ratio": part["ape"].mean() / part["naive_ape"].mean(),
            "cover 80": part["in80"].mean(),
            "cover 95": part["in95"].mean(),
            "uncal 80": part["raw80"].mean(),
            "uncal 95": part["raw95"].mean(),
            "Brier": ((part["p"] - part["over"]) ** 2).mean(),
            "Brier naive": ((part["naive_p"] - part["over"]) ** 2).mean(),
            "Brier const": ((base_rate - part["over"]) ** 2).mean(),
        }

    table = {"all": summary(frame)}
    for method, part in frame.groupby("method"):
        table[str(method)] = summary(part)
    ets = frame[frame["method"] == "ets"]
    table["ets, no step in month"] = summary(ets[~ets["kind"].str.contains("step")])
    for kind in ("plain", "spikes", "fee", "shift", "step"):
        part = frame[frame["kind"].str.contains(kind)]
        if len(part):
            table[f"ets, {kind}"] = summary(part[part["method"] == "ets"])
    pd.set_option("display.width", 200)
    print(pd.DataFrame(table).T.round(3).to_string())
    print(f"overrun base rate {base_rate:.2f}; {len(frame)} series in {elapsed:.1f}s")
    print(f"median backtest MAPE reported per budget: {frame['backtest_mape'].median():.3f}")
    reported = frame[["reported80", "reported95"]].astype(float).mean()
    print(
        f"mean held-out coverage reported per budget: {reported.iloc[0]:.3f} at 80%, "
        f"{reported.iloc[1]:.3f} at 95%"
    )


if __name__ == "__main__":
    main()
