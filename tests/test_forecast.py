"""Forecasts on daily series whose future is known: flat, linear, weekly, short, gappy."""

import dataclasses
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from prometheus_client.registry import CollectorRegistry

from budget_exporter.config.loader import load_config
from budget_exporter.evaluation.forecast_cache import ForecastCache
from budget_exporter.evaluation.snapshot import BudgetEntry, Snapshot
from budget_exporter.metrics.exposition import SnapshotCollector
from budget_exporter.model.costs import normalize
from budget_exporter.model.periods import PeriodKind, period_containing
from budget_exporter.money.anomaly import weekday_anomaly_score
from budget_exporter.money.budgets import (
    BudgetSpec,
    CostIndex,
    budget_mask,
    daily_spend,
    evaluate_budget,
    spend_between,
)
from budget_exporter.money.forecast import (
    ETS,
    REASON_FEW,
    RUN_RATE,
    fit_daily_model,
    forecast_period,
)
from budget_exporter.service.refresh import Refresher

UTC_ZONE = ZoneInfo("UTC")
ORIGIN = date(2026, 3, 11)  # a Wednesday: the model forecasts from here on
MARCH = period_containing(PeriodKind.MONTHLY, datetime(2026, 3, 11, tzinfo=UTC), UTC_ZONE)
DAYS_LEFT = 21  # March 11 to 31


def series(values: np.ndarray | list[float], origin: date = ORIGIN) -> pd.Series:
    """Daily values ending the day before ``origin``."""
    end = pd.Timestamp(origin) - pd.Timedelta(days=1)
    return pd.Series(np.asarray(values, dtype=float), pd.date_range(end=end, periods=len(values)))


def at(origin: date = ORIGIN, hour: int = 0) -> datetime:
    """A moment on the origin day, in UTC."""
    return datetime(origin.year, origin.month, origin.day, hour, tzinfo=UTC)


def weekly(days: int, origin: date = ORIGIN, noise: float = 0.0, seed: int = 1) -> pd.Series:
    """100 a weekday and 40 a weekend day, with optional Gaussian noise."""
    index = pd.date_range(end=pd.Timestamp(origin) - pd.Timedelta(days=1), periods=days)
    values = np.where(index.day_of_week >= 5, 40.0, 100.0)
    values = values + np.random.default_rng(seed).normal(0, noise, days)
    return pd.Series(values, index)


def march_rest_of_weekly() -> float:
    """Spend of the weekly pattern from March 11 to 31 inclusive."""
    days = pd.date_range("2026-03-11", "2026-03-31")
    return float(np.where(days.day_of_week >= 5, 40.0, 100.0).sum())


def test_a_flat_series_forecasts_its_rate_with_no_spread():
    model = fit_daily_model(series([50.0] * 120), ORIGIN, PeriodKind.MONTHLY)
    assert model is not None and model.method == ETS
    forecast = forecast_period(model, 500.0, 2000.0, at(), MARCH.end, UTC_ZONE)
    assert forecast.mean == pytest.approx(500.0 + 50.0 * DAYS_LEFT)
    assert list(forecast.bounds.values()) == pytest.approx([forecast.mean] * 4)
    assert forecast.overrun_probability == 0.0
    assert forecast.horizons == {"30d": pytest.approx(1500.0), "90d": pytest.approx(4500.0)}


def test_a_flat_series_crosses_its_limit_when_the_room_is_spent():
    model = fit_daily_model(series([50.0] * 120), ORIGIN, PeriodKind.MONTHLY)
    assert model is not None
    forecast = forecast_period(model, 500.0, 1025.0, at(), MARCH.end, UTC_ZONE)
    # 525 of room at 50 a day: ten and a half days after March 11, 00:00.
    assert forecast.exhaustion == at() + timedelta(days=10.5)
    assert forecast.overrun_probability == 1.0


def test_a_budget_already_over_its_limit_overruns_for_sure():
    values = weekly(120, noise=10.0)
    model = fit_daily_model(values, ORIGIN, PeriodKind.MONTHLY)
    assert model is not None
    forecast = forecast_period(model, 1100.0, 1000.0, at(), MARCH.end, UTC_ZONE)
    assert forecast.overrun_probability == 1.0
    assert forecast.exhaustion is None  # when it happened is the cost data's to say


def test_a_partly_done_day_only_adds_its_remaining_share():
    model = fit_daily_model(series([48.0] * 60), ORIGIN, PeriodKind.MONTHLY)
    assert model is not None
    forecast = forecast_period(model, 512.0, 5000.0, at(hour=18), MARCH.end, UTC_ZONE)
    assert forecast.mean == pytest.approx(512.0 + 48.0 * (DAYS_LEFT - 0.75))


def test_a_linear_series_keeps_its_trend_damped_only_slightly():
    slope, days = 1.0, 200
    values = 100.0 + slope * np.arange(days)
    model = fit_daily_model(series(values), ORIGIN, PeriodKind.MONTHLY)
    assert model is not None
    forecast = forecast_period(model, 0.0, 1e9, at(), MARCH.end, UTC_ZONE)
    truth = sum(100.0 + slope * (days + j) for j in range(DAYS_LEFT))
    flat = values[-1] * DAYS_LEFT
    assert forecast.mean == pytest.approx(truth, rel=0.02)
    assert forecast.mean > flat + 0.5 * (truth - flat)


def test_a_weekly_pattern_is_forecast_day_by_day():
    model = fit_daily_model(weekly(180, noise=2.0), ORIGIN, PeriodKind.MONTHLY)
    assert model is not None
    weekdays = pd.date_range(pd.Timestamp(ORIGIN), periods=14).day_of_week
    assert model.mean[:14][weekdays >= 5] == pytest.approx(40.0, abs=3.0)
    assert model.mean[:14][weekdays < 5] == pytest.approx(100.0, abs=3.0)
    forecast = forecast_period(model, 0.0, 1e9, at(), MARCH.end, UTC_ZONE)
    assert forecast.mean == pytest.approx(march_rest_of_weekly(), rel=0.02)
    bounds = forecast.bounds
    assert bounds["lower_95"] < bounds["lower_80"] < forecast.mean
    assert forecast.mean < bounds["upper_80"] < bounds["upper_95"]


def test_the_backtest_measures_error_and_coverage_of_a_noisy_series():
    model = fit_daily_model(weekly(365, noise=15.0), ORIGIN, PeriodKind.MONTHLY)
    assert model is not None and model.backtest_mape is not None
    assert 0.0 < model.backtest_mape < 0.05
    assert set(model.coverage) == {"0.8", "0.95"}
    assert 0.6 <= model.coverage["0.8"] <= 0.95
    assert 0.8 <= model.coverage["0.95"] <= 1.0


def test_overrun_probability_falls_as_the_limit_rises():
    model = fit_daily_model(weekly(200, noise=10.0), ORIGIN, PeriodKind.MONTHLY)
    assert model is not None
    mean = forecast_period(model, 0.0, 1e9, at(), MARCH.end, UTC_ZONE).mean
    limits = mean * np.array([0.8, 0.95, 1.0, 1.05, 1.2])
    chances = [
        forecast_period(model, 0.0, limit, at(), MARCH.end, UTC_ZONE).overrun_probability
        for limit in limits
    ]
    assert chances == sorted(chances, reverse=True)
    assert chances[0] > 0.99 and chances[-1] < 0.01
    assert 0.2 < chances[2] < 0.8


def test_short_history_falls_back_to_the_run_rate_with_wide_intervals():
    short = fit_daily_model(weekly(10, noise=5.0), ORIGIN, PeriodKind.MONTHLY)
    long = fit_daily_model(weekly(200, noise=5.0), ORIGIN, PeriodKind.MONTHLY)
    assert short is not None and long is not None
    assert short.method == RUN_RATE and long.method != RUN_RATE
    assert short.choice.reason == REASON_FEW and short.choice.scores == {}
    mine = forecast_period(short, 0.0, 1e9, at(), MARCH.end, UTC_ZONE)
    theirs = forecast_period(long, 0.0, 1e9, at(), MARCH.end, UTC_ZONE)
    assert mine.mean == pytest.approx(weekly(10, noise=5.0).mean() * DAYS_LEFT)
    width = mine.bounds["upper_80"] - mine.bounds["lower_80"]
    assert width > 3 * (theirs.bounds["upper_80"] - theirs.bounds["lower_80"])
    assert mine.backtest_mape is None and mine.coverage == {}


@pytest.mark.parametrize("days", [14, 15, 16, 18], ids=lambda days: f"{days} days of history")
def test_a_history_too_short_for_the_seasonal_start_falls_back_instead_of_failing(days):
    model = fit_daily_model(weekly(days, noise=5.0), ORIGIN, PeriodKind.MONTHLY)
    assert model is not None
    forecast = forecast_period(model, 0.0, 1e9, at(), MARCH.end, UTC_ZONE)
    assert np.isfinite([forecast.mean, *forecast.bounds.values()]).all()


def test_no_history_before_the_origin_gives_no_model():
    assert fit_daily_model(series([]), ORIGIN, PeriodKind.MONTHLY) is None
    later = series([10.0] * 5, origin=ORIGIN + timedelta(days=10))
    assert fit_daily_model(later, ORIGIN, PeriodKind.MONTHLY) is None


def test_zero_and_negative_days_stay_finite_and_never_forecast_negative_spend():
    values = np.tile([30.0, 0.0, 0.0, -20.0, 45.0, 0.0, 10.0], 20)
    model = fit_daily_model(series(values), ORIGIN, PeriodKind.MONTHLY)
    assert model is not None
    assert (model.mean >= 0).all()
    forecast = forecast_period(model, 100.0, 200.0, at(), MARCH.end, UTC_ZONE)
    assert np.isfinite([forecast.mean, *forecast.bounds.values()]).all()
    assert min(forecast.bounds.values()) >= 100.0
    assert 0.0 <= forecast.overrun_probability <= 1.0


def test_a_period_that_just_started_is_forecast_from_the_history_before_it():
    april = date(2026, 4, 1)
    model = fit_daily_model(weekly(200, origin=april), april, PeriodKind.MONTHLY)
    assert model is not None
    period = period_containing(PeriodKind.MONTHLY, at(april), UTC_ZONE)
    forecast = forecast_period(model, 0.0, 1e9, at(april), period.end, UTC_ZONE)
    days = pd.date_range("2026-04-01", "2026-04-30")
    truth = float(np.where(days.day_of_week >= 5, 40.0, 100.0).sum())
    assert forecast.mean == pytest.approx(truth, rel=0.01)


def test_missing_dates_are_filled_not_read_as_zero_spend():
    full = weekly(200)
    gappy = full.drop(full.index[[50, 51, 52, 120, 190, 198]])
    model = fit_daily_model(gappy, ORIGIN, PeriodKind.MONTHLY)
    assert model is not None
    forecast = forecast_period(model, 0.0, 1e9, at(), MARCH.end, UTC_ZONE)
    assert forecast.mean == pytest.approx(march_rest_of_weekly(), rel=0.01)


def test_a_first_of_month_fee_is_forecast_on_the_first_only():
    index = pd.date_range(end="2026-03-10", periods=200)
    values = np.where(index.day == 1, 1000.0, 0.0) + 20.0
    model = fit_daily_model(pd.Series(values, index), ORIGIN, PeriodKind.QUARTERLY)
    assert model is not None
    ahead = pd.date_range(pd.Timestamp(ORIGIN), periods=len(model.mean))
    assert model.mean[ahead.day == 1] == pytest.approx(1020.0, rel=0.01)
    assert model.mean[ahead.day != 1] == pytest.approx(20.0, rel=0.01)


@pytest.mark.parametrize(
    ("newest", "expected"),
    [(100.0, "ordinary"), (400.0, "anomalous"), (40.0, "anomalous")],
)
def test_the_anomaly_score_flags_the_newest_day_only_when_it_stands_out(newest, expected):
    values = weekly(120, noise=3.0).to_numpy().copy()  # the newest day is a Tuesday
    values[[20, 47, 90, 105]] *= 5  # earlier spikes must not hide the next one
    values[-1] = newest
    score = weekday_anomaly_score(values)
    assert score is not None
    assert (abs(score) > 5) == (expected == "anomalous")


def test_the_anomaly_score_needs_three_weeks():
    assert weekday_anomaly_score(np.ones(20)) is None


def rows(first: datetime, days: int, cost: float) -> pd.DataFrame:
    """One row a UTC day of ``cost``, for team a."""
    starts = [first + timedelta(days=d) for d in range(days)]
    return normalize(
        pd.DataFrame(
            {
                "start": starts,
                "end": [s + timedelta(days=1) for s in starts],
                "cost": cost,
                "currency": "USD",
                "charge_category": "usage",
                "team": "a",
            }
        )
    )


def test_daily_spend_splits_rows_at_local_midnights():
    index = CostIndex(rows(datetime(2026, 3, 1, tzinfo=UTC), 10, 24.0))
    tokyo = ZoneInfo("Asia/Tokyo")  # UTC+9: each UTC day spans two local days
    mask = np.ones(len(index), dtype=bool)
    days = daily_spend(index, mask, date(2026, 2, 20), date(2026, 3, 15), tokyo)
    # The first local day with data holds 15 of the first row's 24 hours.
    assert days.index[0] == pd.Timestamp("2026-03-01")
    assert days.iloc[0] == pytest.approx(15.0)
    assert days.iloc[1] == pytest.approx(24.0)
    assert days["2026-03-11"] == pytest.approx(9.0)
    start = datetime(2026, 3, 4, tzinfo=tokyo)
    assert days["2026-03-04"] == pytest.approx(
        spend_between(index, mask, start, start + timedelta(days=1))
    )


def test_the_cache_refits_once_per_new_day_of_data():
    spec = BudgetSpec(name="team-a", amount=2000.0, period=PeriodKind.MONTHLY)
    index = CostIndex(rows(datetime(2025, 11, 1, tzinfo=UTC), 140, 50.0))
    cache = ForecastCache()
    for now, data_end, fits in [
        (datetime(2026, 3, 11, 9, tzinfo=UTC), datetime(2026, 3, 11, 6, tzinfo=UTC), 1),
        (datetime(2026, 3, 11, 15, tzinfo=UTC), datetime(2026, 3, 11, 12, tzinfo=UTC), 1),
        (datetime(2026, 3, 12, 9, tzinfo=UTC), datetime(2026, 3, 12, 6, tzinfo=UTC), 2),
    ]:
        cache.begin()
        status = evaluate_budget(spec, index, now, UTC_ZONE, data_end)
        forecast = cache.forecast(spec, index, status, UTC_ZONE)
        assert cache.fits == fits
        assert forecast is not None
        end_of_march = datetime(2026, 4, 1, tzinfo=UTC)
        expected = status.spend + 50.0 * (end_of_march - data_end).total_seconds() / 86400
        assert forecast.mean == pytest.approx(expected)
    assert budget_mask(index, spec).all()


def test_a_cache_out_of_fits_serves_the_older_model_shifted():
    spec = BudgetSpec(name="team-a", amount=2000.0, period=PeriodKind.MONTHLY)
    index = CostIndex(rows(datetime(2025, 11, 1, tzinfo=UTC), 140, 50.0))
    cache = ForecastCache(max_fits_per_evaluation=1)
    first = evaluate_budget(spec, index, at(hour=9), UTC_ZONE, None)
    cache.forecast(spec, index, first, UTC_ZONE)
    later = evaluate_budget(spec, index, at(date(2026, 3, 13), 9), UTC_ZONE, None)
    forecast = cache.forecast(spec, index, later, UTC_ZONE)  # no fits left this evaluation
    assert cache.fits == 1 and forecast is not None
    assert forecast.mean == pytest.approx(later.spend + 50.0 * (DAYS_LEFT - 2 - 9 / 24))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 3, 2, 9, tzinfo=UTC), 50.0 * 31),  # whole March at the old level
        (datetime(2026, 4, 10, 9, tzinfo=UTC), None),  # data over a month old: no forecast
    ],
)
def test_days_after_the_newest_cost_data_are_unknown_not_zero(now, expected):
    spec = BudgetSpec(name="team-a", amount=2000.0, period=PeriodKind.MONTHLY)
    index = CostIndex(rows(datetime(2025, 11, 1, tzinfo=UTC), 118, 50.0))  # to February 26
    data_end = datetime(2026, 2, 27, tzinfo=UTC)
    status = evaluate_budget(spec, index, now, UTC_ZONE, data_end)
    forecast = ForecastCache().forecast(spec, index, status, UTC_ZONE, data_end)
    if expected is None:
        assert forecast is None
    else:
        assert forecast is not None and forecast.mean == pytest.approx(expected)


def test_forecast_metrics_carry_the_method_and_every_bound():
    spec = BudgetSpec(name="team-a", amount=2000.0, period=PeriodKind.MONTHLY)
    index = CostIndex(rows(datetime(2025, 11, 1, tzinfo=UTC), 140, 50.0))
    status = evaluate_budget(spec, index, at(hour=9), UTC_ZONE, None)
    forecast = ForecastCache().forecast(spec, index, status, UTC_ZONE)
    snapshot = Snapshot(
        taken_at=at(hour=9),
        currency="USD",
        budgets=(BudgetEntry(status=status, labels={"team": "a"}, forecast=forecast),),
        providers=(),
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    labels = {"budget": "team-a", "team": "a", "method": "ets"}
    money = {**labels, "currency": "USD"}
    for bound in ("mean", "lower_80", "upper_80", "lower_95", "upper_95"):
        value = registry.get_sample_value("budget_forecast_spend", {**money, "bound": bound})
        assert value == pytest.approx(status.spend + 50.0 * (DAYS_LEFT - 9 / 24))
    assert registry.get_sample_value("budget_forecast_overrun_probability", labels) == 0.0
    assert registry.get_sample_value(
        "budget_forecast_horizon_spend", {**money, "horizon": "30d"}
    ) == pytest.approx(50.0 * (30 - 9 / 24))
    exhaustion = registry.get_sample_value(
        "budget_projected_exhaustion_timestamp_seconds",
        {"budget": "team-a", "team": "a", "method": "forecast"},
    )
    assert exhaustion is None  # 2000 is not reached this month at 50 a day
    assert registry.get_sample_value(
        "budget_cost_anomaly_score", {"budget": "team-a", "team": "a"}
    ) == pytest.approx(0.0)


def test_the_anomaly_score_of_a_breakdown_value_is_its_own_family():
    spec = BudgetSpec(name="team-a", amount=2000.0, period=PeriodKind.MONTHLY)
    index = CostIndex(rows(datetime(2025, 11, 1, tzinfo=UTC), 140, 50.0))
    status = evaluate_budget(spec, index, at(hour=9), UTC_ZONE, None)
    forecast = ForecastCache().forecast(spec, index, status, UTC_ZONE)
    assert forecast is not None
    scored = dataclasses.replace(
        forecast, anomaly_score=5.0, value_anomaly_scores={"ServiceName": {"EC2": 6.0, "S3": 1.0}}
    )
    snapshot = Snapshot(
        taken_at=at(hour=9),
        currency="USD",
        budgets=(BudgetEntry(status=status, labels={"team": "a"}, forecast=scored),),
        providers=(),
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in registry.collect()
        if family.name.startswith("budget_cost_anomaly_score")
        for sample in family.samples
    }
    base = (("budget", "team-a"), ("team", "a"))
    # One total series, so an alert on it fires once per spike, not once per breakdown value.
    assert samples == {
        ("budget_cost_anomaly_score", frozenset(base)): 5.0,
        (
            "budget_cost_anomaly_score_by_dimension",
            frozenset((*base, ("dimension", "ServiceName"), ("value", "EC2"))),
        ): 6.0,
        (
            "budget_cost_anomaly_score_by_dimension",
            frozenset((*base, ("dimension", "ServiceName"), ("value", "S3"))),
        ): 1.0,
    }


def test_the_focus_sample_serves_sane_forecasts_from_sparse_tiny_and_negative_days():
    config = load_config(str(Path(__file__).resolve().parent / "fixtures" / "focus.yml"))
    refresher = Refresher(config)
    now = datetime(2024, 9, 20, 12, tzinfo=UTC)
    refresher.refresh(now, list(refresher.providers))
    forecasts = [entry.forecast for entry in refresher.snapshot(now).budgets]
    assert any(forecasts)
    for forecast in filter(None, forecasts):
        bounds = forecast.bounds
        assert np.isfinite([forecast.mean, *bounds.values(), *forecast.horizons.values()]).all()
        assert bounds["lower_95"] <= bounds["lower_80"] <= bounds["upper_80"] <= bounds["upper_95"]
        assert 0.0 <= forecast.overrun_probability <= 1.0
