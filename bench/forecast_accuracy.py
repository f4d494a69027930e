"""Accuracy of the period-total forecast on daily cost series shaped like real bills.

Each series has a history (a year, unless its class says otherwise) and a target month seen
from a random day in it. Per class of series, reports the MAPE of the month total for the
forecast, the naive run-rate (spend so far / days so far x days in month) and the trailing
means (spend so far + mean of the last 7 or 28 days x days left), coverage of the 80% and 95%
intervals, the Brier score of the overrun probability (and of the naive yes/no projection),
and the MAPE each budget reports about itself (budget_forecast_backtest_mape) beside the one
measured on the target months. With ``--before REV`` the forecast of that git revision runs on
the same series, in the same process.

Run: .venv/bin/python bench/forecast_accuracy.py [--per-class 60] [--seed 1] [--before main]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import ModuleType
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from budget_exporter.model.periods import PeriodKind, period_containing
from budget_exporter.money import forecast as current
from forecast_before import load  # bench/ is on the path when a script in it runs

UTC_ZONE = ZoneInfo("UTC")


@dataclasses.dataclass
class Case:
    """One series and the moment its month total is forecast."""

    history: pd.Series
    spend: float
    actual: float
    limit: float
    as_of: datetime
    period_end: datetime
    days_done: int
    days_in_month: int
    trailing_7: float
    trailing_28: float


def case(rng: np.random.Generator, values: np.ndarray, index: pd.DatetimeIndex, done: int) -> Case:
    """Cut ``values`` (history, then the whole target month, the last days_in_month) at
    ``done`` days into the month."""
    days_in_month = index[-1].days_in_month
    history_days = len(values) - days_in_month + done
    history = pd.Series(values[:history_days], index=index[:history_days])
    month = values[-days_in_month:]
    spend = float(month[:done].sum())
    actual = float(month.sum())
    recent = values[max(history_days - 30, 0) : history_days]
    limit = float(recent.mean()) * days_in_month * rng.uniform(0.85, 1.2)
    as_of = index[history_days].to_pydatetime().replace(tzinfo=UTC)
    left = days_in_month - done
    return Case(
        history,
        spend,
        actual,
        limit,
        as_of,
        period_containing(PeriodKind.MONTHLY, as_of, UTC_ZONE).end,
        done,
        days_in_month,
        spend + float(values[max(history_days - 7, 0) : history_days].mean()) * left,
        spend + float(values[max(history_days - 28, 0) : history_days].mean()) * left,
    )


def frame(rng: np.random.Generator, history_days: int = 365) -> tuple[pd.DatetimeIndex, int]:
    """Dates from the start of the history to the end of a random target month in 2026."""
    month = pd.Timestamp("2026-01-01") + pd.DateOffset(months=int(rng.integers(0, 12)))
    done = int(rng.integers(1, month.days_in_month))
    start = month + pd.Timedelta(days=done) - pd.Timedelta(days=history_days)
    end = month + pd.Timedelta(days=month.days_in_month - 1)
    return pd.date_range(start, end, freq="D"), done


def noise(rng: np.random.Generator, n: int, low: float = 0.02, high: float = 0.15) -> np.ndarray:
    return np.clip(1 + rng.normal(0, rng.uniform(low, high), n), 0, None)


def mixed(rng: np.random.Generator) -> Case:
    """Trend, weekly season, noise, spikes, level shifts and fees drawn at random."""
    index, done = frame(rng)
    n = len(index)
    t = np.arange(n) / 365.0
    base = float(np.exp(rng.uniform(np.log(20), np.log(5000))))
    level = base * (1 + rng.uniform(-0.3, 1.0)) ** (t - t[-1])
    values = level * np.where(index.day_of_week >= 5, rng.choice([1.0, rng.uniform(0.3, 0.95)]), 1)
    if rng.random() < 0.3:
        values[int(rng.integers(n // 4, n - 31)) :] *= rng.uniform(0.5, 2.0)
    values = values * noise(rng, n, 0.02, 0.25)
    if rng.random() < 0.5:
        spikes = rng.random(n) < rng.uniform(0.005, 0.05)
        values[spikes] *= rng.uniform(2, 5, spikes.sum())
    if rng.random() < 0.25:
        values[index.day == 1] += base * rng.uniform(2, 20)
    return case(rng, values, index, done)


def flat_dip(rng: np.random.Generator) -> Case:
    """A flat bill with a one-off two-day dip two to eight weeks before the forecast."""
    index, done = frame(rng)
    values = rng.uniform(20, 2000) * noise(rng, len(index), 0.01, 0.08)
    at = len(index) - index[-1].days_in_month + done - int(rng.integers(14, 57))
    values[at : at + 2] *= rng.uniform(0.1, 0.4)
    return case(rng, values, index, done)


def step_down(rng: np.random.Generator) -> Case:
    """Resources shut down on a random day of the target month: spend falls to 3-10%."""
    index, done = frame(rng)
    values = rng.uniform(50, 2000) * noise(rng, len(index), 0.02, 0.1)
    month_start = len(index) - index[-1].days_in_month
    values[month_start + int(rng.integers(1, index[-1].days_in_month - 1)) :] *= rng.uniform(
        0.03, 0.1
    )
    return case(rng, values, index, done)


def flat_month(rng: np.random.Generator) -> Case:
    """A perfectly flat month after a shutdown one to three months earlier."""
    index, done = frame(rng)
    n = len(index)
    level = rng.uniform(5, 50)
    values = level * noise(rng, n, 0.01, 0.04)
    before = n - index[-1].days_in_month - int(rng.integers(0, 60))
    values[:before] = rng.uniform(8, 15) * level * noise(rng, before, 0.02, 0.1)
    return case(rng, values, index, done)


def ramp_up(rng: np.random.Generator) -> Case:
    """A new service: spend starts 30 to 120 days before the forecast and grows."""
    index, done = frame(rng)
    n = len(index)
    age = int(rng.integers(30, 121))
    start = n - index[-1].days_in_month + done - age
    days = np.clip(np.arange(n) - start, 0, None)
    values = rng.uniform(5, 100) * (1 + rng.uniform(0.01, 0.04)) ** days * (days > 0)
    values = values * noise(rng, n)
    return case(rng, values, index, done)


def fee_days(rng: np.random.Generator) -> Case:
    """Daily usage plus a fixed fee on the first of every month (support, commitments)."""
    index, done = frame(rng)
    usage = rng.uniform(20, 500)
    values = usage * noise(rng, len(index))
    values[index.day == 1] += usage * rng.uniform(5, 30)
    return case(rng, values, index, done)


def weekday_heavy(rng: np.random.Generator) -> Case:
    """Office-hours usage: weekends at 5-30% of a weekday."""
    index, done = frame(rng)
    weekend = rng.uniform(0.05, 0.3)
    values = rng.uniform(50, 3000) * np.where(index.day_of_week >= 5, weekend, 1.0)
    return case(rng, values * noise(rng, len(index)), index, done)


def sparse(rng: np.random.Generator) -> Case:
    """Charges on 10-40% of days only, of varying size (batch jobs, small accounts)."""
    index, done = frame(rng)
    n = len(index)
    share = rng.uniform(0.1, 0.4)
    size = rng.uniform(10, 300)
    while True:
        charged = rng.random(n) < share
        values = np.where(charged, rng.lognormal(np.log(size), 0.5, n), 0.0)
        # A month with next to no charges makes every percentage error meaningless.
        if values[-index[-1].days_in_month :].sum() > 0.3 * share * size * 30:
            return case(rng, values, index, done)


def short(rng: np.random.Generator) -> Case:
    """A budget whose data began 2 to 20 days ago."""
    history = int(rng.integers(2, 21))
    index, done = frame(rng, history)
    while done > history:  # the data began inside the target month at the latest
        index, done = frame(rng, history)
    values = rng.uniform(20, 500) * noise(rng, len(index))
    return case(rng, values, index, done)


CLASSES: dict[str, Callable[[np.random.Generator], Case]] = {
    "mixed (trend, season, spikes, shifts, fees)": mixed,
    "flat with a one-off dip": flat_dip,
    "steps down mid-month": step_down,
    "flat month after a shutdown": flat_month,
    "new service ramping up": ramp_up,
    "monthly fee days": fee_days,
    "weekday-heavy": weekday_heavy,
    "sparse daily charges": sparse,
    "very short history": short,
}


def run(module: ModuleType, c: Case) -> tuple[object, object]:
    """Fit on the history, forecast the month: the same call in both revisions."""
    model = module.fit_daily_model(c.history, c.as_of.date(), PeriodKind.MONTHLY)
    forecast = module.forecast_period(model, c.spend, c.limit, c.as_of, c.period_end, UTC_ZONE)
    return model, forecast


def main() -> None:
    """Run every class and print the tables written down in bench/README.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-class", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--before", help="also run the forecast of this git revision")
    args = parser.parse_args()
    before = load(args.before) if args.before else None
    rng = np.random.default_rng(args.seed)
    rows = []
    spent = {"after": 0.0, "before": 0.0}
    for label, make in CLASSES.items():
        for _ in range(args.per_class):
            c = make(rng)
            started = time.perf_counter()
            model, f = run(current, c)
            spent["after"] += time.perf_counter() - started
            naive = c.spend / c.days_done * c.days_in_month
            row = {
                "class": label,
                "method": model.method,
                "ape": abs(f.mean - c.actual) / c.actual,
                "run-rate": abs(naive - c.actual) / c.actual,
                "trailing 7d": abs(c.trailing_7 - c.actual) / c.actual,
                "trailing 28d": abs(c.trailing_28 - c.actual) / c.actual,
                "in80": f.bounds["lower_80"] <= c.actual <= f.bounds["upper_80"],
                "in95": f.bounds["lower_95"] <= c.actual <= f.bounds["upper_95"],
                "p": f.overrun_probability,
                "naive_p": float(naive > c.limit),
                "over": float(c.actual > c.limit),
                "reported": model.backtest_mape,
            }
            if before is not None:
                started = time.perf_counter()
                _, old = run(before, c)
                spent["before"] += time.perf_counter() - started
                row["before"] = abs(old.mean - c.actual) / c.actual
                row["before in80"] = old.bounds["lower_80"] <= c.actual <= old.bounds["upper_80"]
                row["before in95"] = old.bounds["lower_95"] <= c.actual <= old.bounds["upper_95"]
            rows.append(row)
    data = pd.DataFrame(rows)

    def summary(part: pd.DataFrame) -> dict[str, object]:
        reported = part["reported"].dropna()
        measured = part.loc[reported.index, "ape"]
        out: dict[str, object] = {
            "n": len(part),
            "MAPE": part["ape"].mean(),
            "run-rate": part["run-rate"].mean(),
            "/ run-rate": part["ape"].mean() / part["run-rate"].mean(),
            "trail 7d": part["trailing 7d"].mean(),
            "trail 28d": part["trailing 28d"].mean(),
            "cover 80": part["in80"].mean(),
            "cover 95": part["in95"].mean(),
            "Brier": ((part["p"] - part["over"]) ** 2).mean(),
            "Brier naive": ((part["naive_p"] - part["over"]) ** 2).mean(),
            "reported": reported.mean() if len(reported) else float("nan"),
            "measured": measured.mean() if len(reported) else float("nan"),
            "with figures": len(reported),
        }
        if "before" in part:
            out["before MAPE"] = part["before"].mean()
            out["before cov 80/95"] = (
                f"{part['before in80'].mean():.2f}/{part['before in95'].mean():.2f}"
            )
        return out

    table = {label: summary(part) for label, part in data.groupby("class", sort=False)}
    table["all"] = summary(data)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    print(pd.DataFrame(table).T.to_string(float_format=lambda v: f"{v:.3f}"))
    print()
    print(pd.crosstab(data["class"], data["method"]).to_string())
    line = f"{len(data)} series; fit and forecast {spent['after']:.1f} s"
    if before is not None:
        line += f" (revision {args.before}: {spent['before']:.1f} s)"
    print(line)


if __name__ == "__main__":
    main()
