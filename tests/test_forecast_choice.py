"""Model choice by backtest, level shifts, accuracy figures and lower bounds of the forecast."""

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from budget_exporter.evaluation.forecast_cache import ForecastCache
from budget_exporter.evaluation.snapshot import BudgetEntry
from budget_exporter.model.periods import PeriodKind, period_containing
from budget_exporter.money import forecast as fc
from budget_exporter.money.budgets import BudgetSpec, CostIndex, evaluate_budget
from budget_exporter.money.forecast import (
    ETS,
    ETS_NO_SEASON,
    REASON_BEST,
    REASON_FEW,
    REASON_NONE,
    RUN_RATE,
    TRAILING_7,
    TRAILING_28,
    fit_daily_model,
    forecast_period,
)
from budget_exporter.views.snapshot_json import budget_json
from test_forecast import DAYS_LEFT, MARCH, ORIGIN, UTC_ZONE, at, rows, series, weekly

KNOWN = 10  # March 1 to 10 are known at ORIGIN


def noisy(days: int, level: float = 100.0, cv: float = 0.05, seed: int = 3) -> np.ndarray:
    return level * (1 + np.random.default_rng(seed).normal(0, cv, days))


def states(values: np.ndarray, known: int = KNOWN) -> dict[str, fc._Candidate]:
    """The candidates' states on ``values``, a series with no weekly pattern."""
    first_weekday = 0
    profile = fc._weekly_profile(values, first_weekday)
    built = fc._candidates(values, values, profile, first_weekday, known)
    return {candidate.name: candidate for candidate in built}


def test_every_candidate_is_offered_and_the_run_rate_comes_last():
    assert fc.METHODS == (ETS, ETS_NO_SEASON, TRAILING_28, TRAILING_7, RUN_RATE)
    assert list(states(noisy(60))) == list(fc.METHODS)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (RUN_RATE, lambda v: v[-KNOWN:].mean()),  # spend of the period so far per day
        (TRAILING_7, lambda v: v[-7:].mean()),
        (TRAILING_28, lambda v: v[-28:].mean()),
    ],
    ids=["run-rate", "7-day mean", "28-day mean"],
)
def test_the_pace_candidates_are_plain_means_of_their_days(name, expected):
    values = noisy(90)
    candidate = states(values)[name]
    assert candidate.level[-1] == pytest.approx(expected(values))
    assert candidate.trend[-1] == 0.0


def test_the_run_rate_at_the_start_of_a_period_is_the_last_thirty_days_pace():
    values = noisy(90)
    assert states(values, known=0)[RUN_RATE].level[-1] == pytest.approx(values[-30:].mean())


def test_exponential_smoothing_without_season_follows_its_recursion_by_hand():
    values = noisy(60)
    candidate = states(values)[ETS_NO_SEASON]
    (alpha,) = candidate.params
    level = values[:7].mean()
    for value in values:
        level += alpha * (value - level)
    assert candidate.level[-1] == pytest.approx(level)


def test_the_damped_trend_candidate_continues_a_ramp():
    values = 50.0 + 2.0 * np.arange(120)
    candidate = states(values)[ETS]
    profile = fc._weekly_profile(values, first_weekday=0)
    ahead = fc._path(candidate, len(values), profile, weekday=len(values) % 7, days=7)
    assert ahead == pytest.approx(50.0 + 2.0 * np.arange(120, 127), rel=0.01)
    flat = states(values)[TRAILING_7].level[-1]
    assert ahead[-1] - flat > 0.8 * (values[-1] + 14.0 - flat)  # damped, only slightly


def test_one_odd_week_does_not_set_the_weekly_profile():
    values = np.full(120, 100.0)
    values[60:62] = 20.0  # a Monday and Tuesday of one week
    profile = fc._weekly_profile(values, first_weekday=0)
    assert profile[-1] == pytest.approx(np.ones(7))
    # While it is among the last eight weeks, one dip out of eight ratios is not the median.
    assert profile[70] == pytest.approx(np.ones(7), abs=0.02)


def test_a_weekly_profile_adapts_when_the_pattern_changes():
    values = np.full(140, 100.0)
    values[70:][np.arange(70) % 7 >= 5] = 20.0  # weekends drop from the tenth week on
    profile = fc._weekly_profile(values, first_weekday=0)
    assert profile[60] == pytest.approx(np.ones(7))
    weekend = profile[-1][5:] / profile[-1][:5].mean()
    assert weekend == pytest.approx([0.2, 0.2], abs=0.02)


def test_a_flat_series_with_an_odd_week_picks_a_model_that_does_not_amplify_it():
    values = noisy(180, cv=0.03)
    values[-40:-38] = 15.0  # a two-day dip, weeks before the origin
    model = fit_daily_model(series(values), ORIGIN, PeriodKind.MONTHLY)
    assert model is not None
    path = model.mean[:28]
    assert path.max() / path.min() < 1.08  # no weekday inherits the dip
    forecast = forecast_period(model, 1000.0, 1e9, at(), MARCH.end, UTC_ZONE)
    assert forecast.mean == pytest.approx(1000.0 + 100.0 * DAYS_LEFT, rel=0.02)


@pytest.mark.parametrize("days_since", [2, 3])
def test_a_step_down_is_followed_within_three_days(days_since):
    values = noisy(150, level=150.0)
    values[-days_since:] = 10.0 + np.arange(days_since) * 0.1  # resources shut down
    model = fit_daily_model(series(values), ORIGIN, PeriodKind.MONTHLY)
    assert model is not None
    assert model.choice.shift_days == days_since
    assert model.mean[:DAYS_LEFT] == pytest.approx(np.full(DAYS_LEFT, 10.1), rel=0.1)
    spend = float(values[-KNOWN:].sum())
    forecast = forecast_period(model, spend, 1e9, at(), MARCH.end, UTC_ZONE)
    naive = spend / KNOWN * 31
    truth = spend + 10.1 * DAYS_LEFT
    assert abs(forecast.mean - truth) < 0.1 * abs(naive - truth)
    # The interval is wider than the noise of the old level would make it.
    steady = fit_daily_model(series(noisy(150, level=10.0)), ORIGIN, PeriodKind.MONTHLY)
    assert steady is not None
    calm = forecast_period(steady, spend, 1e9, at(), MARCH.end, UTC_ZONE).bounds
    bounds = forecast.bounds
    assert bounds["upper_80"] - bounds["lower_80"] > calm["upper_80"] - calm["lower_80"]


def test_a_step_down_is_followed_even_when_the_run_rate_won_the_backtest():
    values = np.full(150, 150.0)
    values[-3:] = 10.0
    model = fit_daily_model(series(values), ORIGIN, PeriodKind.MONTHLY)
    assert model is not None and model.method != RUN_RATE
    assert model.mean[0] == pytest.approx(10.0)


def test_the_run_rate_wins_when_the_history_is_too_short():
    model = fit_daily_model(series(noisy(25)), ORIGIN, PeriodKind.MONTHLY)
    assert model is not None
    assert model.method == RUN_RATE and model.choice.reason == REASON_FEW
    assert model.backtest_mape is None and model.coverage == {}


@pytest.mark.parametrize(
    ("errors", "expected", "reason"),
    [
        ([[0.10], [0.30], [0.30], [0.30], [0.20]], ETS, REASON_BEST),
        ([[0.30], [0.25], [0.30], [0.30], [0.20]], RUN_RATE, REASON_NONE),
        ([[0.30], [0.30], [0.30], [0.15], [0.20]], TRAILING_7, REASON_BEST),
    ],
    ids=["the best model", "none beats the run-rate", "a pace beats the models"],
)
def test_a_candidate_worse_than_the_run_rate_on_the_same_origins_is_never_chosen(
    errors, expected, reason
):
    names = list(fc.METHODS)
    ape = np.repeat(np.array(errors), 40, axis=1)
    chosen, why, scores = fc._choose(names, ape, np.ones(40, dtype=bool), independent=10.0)
    assert names[chosen] == expected and why == reason
    assert scores == pytest.approx({name: row[0] for name, row in zip(names, errors, strict=True)})


def test_the_run_rate_score_is_the_error_a_user_would_measure_by_hand():
    values = noisy(200, cv=0.15)
    model = fit_daily_model(series(values), ORIGIN, PeriodKind.MONTHLY)
    assert model is not None
    rest = DAYS_LEFT
    errors = []
    # Every origin t after eight weeks of warm-up: KNOWN days before it are the period so far,
    # the rest comes after it.
    for t in range(56, len(values) - rest + 1):
        spent = values[t - KNOWN : t].sum()
        naive = spent / KNOWN * (KNOWN + rest)
        total = spent + values[t : t + rest].sum()
        errors.append(abs(naive - total) / total)
    assert model.choice.origins == len(errors)
    assert model.choice.scores[RUN_RATE] == pytest.approx(np.mean(errors))


def test_coverage_is_measured_on_held_out_origins_with_older_quantiles():
    older = np.linspace(-1.0, 1.0, 201)  # quantile p sits at 2p - 1
    newer = np.array([-0.9, -0.5, 0.0, 0.85, 0.97, 1.5])
    mape, coverage = fc._held_out(
        np.array([0.1, 0.3, np.nan]), older, newer, independent=50.0, fallback=np.ones(6)
    )
    assert mape == pytest.approx(0.2)
    # 50 independent origins stretch the levels by 1.02: the 80% interval is read at 0.092 and
    # 0.908, [-0.816, 0.816], holding -0.5 and 0.0; the 95% one at 0.0155 and 0.9845,
    # [-0.969, 0.969], also -0.9 and 0.85 (not 0.97).
    assert coverage == {"0.8": pytest.approx(2 / 6), "0.95": pytest.approx(4 / 6)}


def test_accuracy_figures_are_withheld_when_few_origins_are_held_out():
    model = fit_daily_model(weekly(120, noise=10.0), ORIGIN, PeriodKind.MONTHLY)
    assert model is not None
    assert model.choice.held_out < fc.MIN_REPORTED_ORIGINS
    assert model.backtest_mape is None and model.coverage == {}
    assert model.choice.scores  # the choice itself had enough origins


def test_the_reported_error_matches_the_error_measured_on_later_months():
    rng = np.random.default_rng(11)
    index = pd.date_range("2025-01-01", "2026-12-31")
    values = 200 * (1 + rng.normal(0, 0.2, len(index))) * np.where(index.day_of_week >= 5, 0.5, 1)
    values *= np.exp(np.cumsum(rng.normal(0, 0.01, len(index))))  # a wandering level
    full = pd.Series(values, index)
    reported, measured = [], []
    for month in range(1, 13):
        origin = date(2026, month, 15)
        model = fit_daily_model(
            full[: pd.Timestamp(origin) - pd.Timedelta(days=1)], origin, PeriodKind.MONTHLY
        )
        assert model is not None and model.backtest_mape is not None
        moment = datetime(2026, month, 15, tzinfo=UTC)
        period = period_containing(PeriodKind.MONTHLY, moment, UTC_ZONE)
        inside = full[period.start.date().isoformat() : period.end.date().isoformat()][:-1]
        spend = float(inside[: origin.day - 1].sum())
        forecast = forecast_period(model, spend, 1e9, moment, period.end, UTC_ZONE)
        truth = float(inside.sum())
        reported.append(model.backtest_mape)
        measured.append(abs(forecast.mean - truth) / truth)
    assert np.mean(reported) == pytest.approx(np.mean(measured), rel=0.5)


def test_the_lower_bound_counts_the_spend_still_to_come():
    model = fit_daily_model(weekly(365, noise=15.0), ORIGIN, PeriodKind.MONTHLY)
    assert model is not None
    forecast = forecast_period(model, 700.0, 1e9, at(), MARCH.end, UTC_ZONE)
    rest = forecast.mean - 700.0
    assert 700.0 + 0.8 * rest < forecast.bounds["lower_95"] < forecast.bounds["lower_80"]


def test_after_a_shutdown_the_lower_bounds_still_expect_the_new_level():
    values = np.concatenate((noisy(120, level=150.0), noisy(40, level=10.0, seed=4)))
    model = fit_daily_model(series(values), ORIGIN, PeriodKind.MONTHLY)
    assert model is not None
    forecast = forecast_period(model, 100.0, 1e9, at(), MARCH.end, UTC_ZONE)
    assert forecast.mean == pytest.approx(100.0 + 10.0 * DAYS_LEFT, rel=0.05)
    # The windows that saw the shutdown keep the lower bounds wide, yet above the spend so far.
    assert forecast.bounds["lower_95"] < forecast.bounds["lower_80"]
    assert forecast.bounds["lower_95"] > 100.0 + 0.2 * 10.0 * DAYS_LEFT


def test_the_json_api_says_which_model_serves_why_and_when_accuracy_is_withheld():
    spec = BudgetSpec(name="team-a", amount=2000.0, period=PeriodKind.MONTHLY)
    index = CostIndex(rows(datetime(2025, 11, 1, tzinfo=UTC), 140, 50.0))
    status = evaluate_budget(spec, index, at(hour=9), UTC_ZONE, None)
    forecast = ForecastCache().forecast(spec, index, status, UTC_ZONE)
    assert forecast is not None
    body = budget_json(BudgetEntry(status=status, forecast=forecast), "USD")["forecast"]
    assert body["method"] == forecast.method
    assert body["choice"]["reason"] == forecast.choice.reason
    assert set(body["choice"]["candidates"]) == set(fc.METHODS)
    assert body["choice"]["origins"] == forecast.choice.origins > 0
    # 130 days before March 11, past a warm-up of 43 (a third), hold 67 origins of 10 known
    # and 21 left; the newest 34 are held out, which is 1 independent window of 21 days.
    assert body["accuracy"] == {
        "backtest_mape": None,
        "coverage": {},
        "held_out_origins": 1,
        "note": "withheld: 1 independent held-out origins, 4 needed",
    }
