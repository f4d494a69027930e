"""Cost of forecasting at scale: a full refit of every budget, then an in-between refresh.

1,000 budgets (250 teams x four periods) over a year of daily cost rows. Passes over the same
budgets, timed side by side in one run:

- ``plain`` (after an untimed warm-up, and again later; averaged): the budget numbers alone
  (evaluate_budget), the baseline;
- ``first fit``: budget numbers plus a forecast whose model is fit from scratch (start-up);
- ``in-between``: budget numbers plus a forecast from the cached model, hours later that day;
- ``daily refit``: the next day's data arrived: every model refit, starting from yesterday's
  parameters.

Then the in-between forecast alone for 10,000 budgets (each cached model serving ten). With
``--before REV``, the fits alone (every budget's history read once, then fit by today's code and
by that git revision's, from scratch and, for the revision that takes them, from the previous
fit's parameters) and forecast_period alone, side by side in the same run.

Run: .venv/bin/python bench/forecast_speed.py [--teams 250] [--before main]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from budget_exporter.evaluation.forecast_cache import ForecastCache
from budget_exporter.model.costs import normalize
from budget_exporter.model.periods import PeriodKind
from budget_exporter.money import forecast as current
from budget_exporter.money.budgets import (
    BudgetSpec,
    BudgetStatus,
    CostIndex,
    budget_mask,
    daily_spend,
    evaluate_budget,
)
from budget_exporter.money.forecast import HISTORY_DAYS, forecast_period
from forecast_before import load  # bench/ is on the path when a script in it runs

ZONE = ZoneInfo("UTC")
PERIODS = (PeriodKind.DAILY, PeriodKind.WEEKLY, PeriodKind.MONTHLY, PeriodKind.QUARTERLY)


def cost_frame(teams: int, end: datetime, seed: int = 1) -> pd.DataFrame:
    """A year of daily rows per team: growth, weekly season, noise and a few spikes."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(end - timedelta(days=365), end - timedelta(days=1), freq="D")
    frames = []
    for team in range(teams):
        t = np.arange(len(days)) / 365.0
        level = np.exp(rng.uniform(np.log(10), np.log(2000))) * (1 + rng.uniform(-0.2, 0.8)) ** t
        season = np.where(days.day_of_week >= 5, rng.uniform(0.3, 1.0), 1.0)
        noise = np.clip(1 + rng.normal(0, rng.uniform(0.02, 0.2), len(days)), 0, None)
        spikes = np.where(rng.random(len(days)) < 0.02, 3.0, 1.0)
        frames.append(
            pd.DataFrame(
                {
                    "start": days,
                    "end": days + pd.Timedelta(days=1),
                    "cost": level * season * noise * spikes,
                    "currency": "USD",
                    "charge_category": "usage",
                    "team": f"team-{team:04d}",
                }
            )
        )
    return normalize(pd.concat(frames, ignore_index=True))


def main() -> None:
    """Time the three passes and print them as seconds and ratios to the baseline."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--teams", type=int, default=250)
    parser.add_argument("--before", help="also time the forecast of this git revision")
    args = parser.parse_args()
    today = datetime(2026, 3, 11, tzinfo=UTC)
    index = CostIndex(cost_frame(args.teams, today + timedelta(days=1)))
    specs = [
        BudgetSpec(
            name=f"team-{team:04d}-{period.value}",
            amount=1000.0 * period.nominal_days,
            period=period,
            filter={"team": (f"team-{team:04d}",)},
        )
        for team in range(args.teams)
        for period in PERIODS
    ]
    cache = ForecastCache(max_fits_per_evaluation=len(specs))
    timings = {}
    forecasting = {}  # the share of each pass spent in the forecast cache
    statuses = []
    for label, now in (
        ("plain warm-up", today + timedelta(hours=7)),
        ("plain", today + timedelta(hours=8)),
        ("first fit", today + timedelta(hours=9)),
        ("in-between", today + timedelta(hours=15)),
        ("plain again", today + timedelta(hours=16)),
        ("daily refit", today + timedelta(days=1, hours=9)),
    ):
        cache.begin()
        started = time.perf_counter()
        spent = 0.0
        for spec in specs:
            # The newest cost data ends at 06:00 of the day, as with a provider that lags.
            data_end = now.replace(hour=6)
            status = evaluate_budget(spec, index, now, ZONE, data_end)
            if not label.startswith("plain"):
                before = time.perf_counter()
                cache.forecast(spec, index, status, ZONE, data_end)
                spent += time.perf_counter() - before
            if label == "in-between":
                statuses.append(status)
        timings[label] = time.perf_counter() - started
        forecasting[label] = spent
    models = cache.models()
    started = time.perf_counter()
    served = 0
    for _ in range(10):
        for model, status in zip(models, statuses, strict=True):
            assert model is not None
            forecast_period(
                model, status.spend, status.limit, status.as_of, status.period.end, ZONE
            )
            served += 1
    alone = time.perf_counter() - started
    base = (timings["plain"] + timings["plain again"]) / 2
    print(f"{len(specs)} budgets, {len(index)} cost rows, {cache.fits} model fits")
    del timings["plain warm-up"]  # first calls pay for lazy set-up in numpy and pandas
    for label, seconds in timings.items():
        print(f"{label:>11}: {seconds:7.2f} s  ({seconds / base:5.2f} x plain)")
    for label in ("first fit", "in-between", "daily refit"):
        extra = forecasting[label]
        each = extra / len(specs) * 1e3
        print(f"{label:>11}: forecasting took {extra:6.2f} s of it, {each:.2f} ms a budget")
    print(f"forecast_period alone: {served} budgets in {alone:.2f} s")
    if args.before:
        side_by_side(load(args.before), args.before, specs, index, statuses)


def side_by_side(
    before: object,
    revision: str,
    specs: list[BudgetSpec],
    index: CostIndex,
    statuses: list[BudgetStatus],
) -> None:
    """Fits and forecasts alone, today's code against ``revision``'s, on the same histories."""
    histories = []
    for spec, status in zip(specs, statuses, strict=True):
        origin = status.as_of.astimezone(ZONE).date()
        mask = budget_mask(index, spec)
        start = origin - timedelta(days=HISTORY_DAYS)
        histories.append((daily_spend(index, mask, start, origin, ZONE), origin, status))
    timings: dict[str, float] = {}
    models: dict[str, list[object]] = {"after": [], "before": []}
    for label, module in (("after", current), ("before", before)):
        started = time.perf_counter()
        for (history, origin, _), spec in zip(histories, specs, strict=True):
            models[label].append(module.fit_daily_model(history, origin, spec.period))  # type: ignore[attr-defined]
        timings[f"{label} first fit"] = time.perf_counter() - started
    started = time.perf_counter()
    for (history, origin, _), spec, model in zip(histories, specs, models["before"], strict=True):
        params = getattr(model, "params", ())
        before.fit_daily_model(history, origin, spec.period, params)  # type: ignore[attr-defined]
    timings["before refit from yesterday's parameters"] = time.perf_counter() - started
    for label, module in (("after", current), ("before", before)):
        started = time.perf_counter()
        for _ in range(10):
            for model, (_, _, status) in zip(models[label], histories, strict=True):
                module.forecast_period(  # type: ignore[attr-defined]
                    model, status.spend, status.limit, status.as_of, status.period.end, ZONE
                )
        timings[f"{label} forecast_period x10"] = time.perf_counter() - started
    print(f"side by side with {revision}, {len(specs)} budgets:")
    for label, seconds in timings.items():
        print(f"  {label:>42}: {seconds:6.2f} s")


if __name__ == "__main__":
    main()
