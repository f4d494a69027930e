"""Spend forecasts: daily cost history in, period total with calibrated intervals out.

Pure: no I/O, no clock. The expensive part, :func:`fit_daily_model`, runs once per new day of
cost data; :func:`forecast_period` is cheap and runs at every evaluation with the spend to date.

The interval of the period total comes from the variance of the *sum* of the remaining days
(errors of a state-space model are correlated across days), never from adding up daily bounds.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

from ..model.periods import PeriodKind, period_containing
from .anomaly import weekday_anomaly_score

ETS = "ets"
RUN_RATE = "run_rate"
SEASON = 7
HISTORY_DAYS = 365
# Below this many days the weekly pattern and trend cannot be told apart from noise.
MIN_ETS_DAYS = 14
HORIZONS: dict[str, int] = {"30d": 30, "90d": 90}
LEVELS: dict[str, float] = {"0.8": 0.8, "0.95": 0.95}
BOUNDS: dict[str, float] = {
    "lower_95": 0.025,
    "lower_80": 0.1,
    "upper_80": 0.9,
    "upper_95": 0.975,
}
# Calibrated quantiles of the standardized error of the remaining spend, on this grid.
PROBS = np.array(
    [0.005, 0.01, 0.025, 0.05, *np.round(np.arange(0.1, 0.91, 0.05), 2), 0.95, 0.975, 0.99, 0.995]
)
# A backtest needs this many origins before its error distribution replaces the normal one.
FULL_TRUST_ORIGINS = 90
# Without a usable backtest, normal quantiles are widened by this much (models are optimistic).
UNCALIBRATED_WIDENING = 1.5
# Backtest totals span the budget's period, up to a quarter: a year of history cannot test
# longer ones, whose intervals reuse the quarter's calibration.
MAX_BACKTEST_WINDOW = 92
# The error size at a day is the mean squared one-day error over the 8 weeks before it.
LOCAL_DAYS = 56
# The most recent share of backtest origins is held out to measure coverage honestly.
HOLDOUT_SHARE = 0.3
# Most fits converge well before this; the cap keeps a pathological series from stalling a refresh.
_MAX_ITER = 60


@dataclass(frozen=True)
class DailyModel:
    """A model fitted on complete days before ``origin``; serves forecasts until it is refit."""

    method: str
    origin: date  # first day the model forecasts
    mean: np.ndarray  # expected spend of day origin + j, clipped at zero
    psi: np.ndarray  # weight of a day's shock on day j later (psi[0] = 1)
    sigma: float  # standard deviation of one day's shock
    mean_sd: float  # uncertainty of the level itself (run-rate); grows with the horizon
    quantiles: np.ndarray  # standardized error of a sum at PROBS, calibrated
    backtest_mape: float | None = None
    coverage: Mapping[str, float] = field(default_factory=dict)
    anomaly_score: float | None = None
    history_days: int = 0
    params: tuple[float, ...] = ()  # smoothing parameters, the start of the next day's fit


@dataclass(frozen=True)
class Forecast:
    """What the model expects for the current period and beyond, at one moment."""

    method: str
    mean: float
    bounds: Mapping[str, float]
    overrun_probability: float
    horizons: Mapping[str, float]
    exhaustion: datetime | None
    backtest_mape: float | None
    coverage: Mapping[str, float]
    anomaly_score: float | None
    # Anomaly score of the newest day per dimension and top value of the budget's breakdown.
    value_anomaly_scores: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


def prepare_history(history: pd.Series, origin: date) -> pd.Series:
    """Daily values up to the day before ``origin`` on a gapless index (last year at most).

    Missing dates are unknown rather than zero: they take the value of the same weekday a week
    earlier (or later), so a gap does not read as a drop in spend.
    """
    if history.empty:
        return history.astype(np.float64)
    values = history.astype(np.float64).copy()
    values.index = pd.DatetimeIndex(values.index).tz_localize(None).normalize()
    values = values.groupby(level=0).sum()
    last = pd.Timestamp(origin) - pd.Timedelta(days=1)
    values = values[values.index <= last]
    if values.empty:
        return values
    first = max(values.index.min(), last - pd.Timedelta(days=HISTORY_DAYS - 1))
    full = values.reindex(pd.date_range(first, last, freq="D"))
    for _ in range(4):
        if not full.isna().any():
            break
        full = full.fillna(full.shift(SEASON)).fillna(full.shift(-SEASON))
    return full.interpolate(limit_direction="both").fillna(0.0)


def fit_daily_model(
    history: pd.Series,
    origin: date,
    period: PeriodKind,
    start: tuple[float, ...] = (),
) -> DailyModel | None:
    """Fit the model on complete days before ``origin``; None without any history.

    Args:
        history: spend per local day (index: dates); missing dates are treated as unknown.
        origin: the first day to forecast, usually the day of the newest cost data.
        period: the budget's period, whose length sets the backtest window.
        start: the previous fit's ``params``; a day later they are nearly right, so the
            optimizer starts there and needs few steps.
    """
    series = prepare_history(history, origin)
    if series.empty:
        return None
    horizon = _path_length(origin, period)
    anomaly = weekday_anomaly_score(series.to_numpy())
    if len(series) < MIN_ETS_DAYS:
        return _run_rate_model(series, origin, horizon, anomaly)
    fee = _first_of_month_fee(series)
    adjusted = series - fee * _firsts(series.index)
    model = _fit_ets(adjusted, start)
    if model is None:
        return _run_rate_model(series, origin, horizon, anomaly)
    level, trend, seasonal, alpha, beta, gamma, phi, sigmas = model
    steps = np.arange(1, horizon + 1)
    damp = np.cumsum(phi**steps)
    future = pd.date_range(pd.Timestamp(origin), periods=horizon, freq="D")
    season = seasonal[len(seasonal) - SEASON + (steps - 1) % SEASON]
    mean = level[-1] + damp * trend[-1] + season + fee * _firsts(future)
    psi = np.concatenate(([1.0], alpha + beta * damp[:-1] + gamma * (steps[:-1] % SEASON == 0)))
    values = series.to_numpy()
    window = int(min(round(period.nominal_days), MAX_BACKTEST_WINDOW))
    fees = fee * _firsts(series.index)
    quantiles, mape, coverage = _calibrate(
        values, fees, level, trend, seasonal, phi, psi, sigmas, window
    )
    return DailyModel(
        method=ETS,
        origin=origin,
        mean=np.clip(mean, 0.0, None),
        psi=psi,
        sigma=float(sigmas[-1]),
        mean_sd=0.0,
        quantiles=quantiles,
        backtest_mape=mape,
        coverage=coverage,
        anomaly_score=anomaly,
        history_days=len(series),
        params=(alpha, beta, gamma, phi),
    )


def forecast_period(
    model: DailyModel,
    spend: float,
    limit: float,
    as_of: datetime,
    period_end: datetime,
    zone: ZoneInfo,
) -> Forecast:
    """Forecast the period total from the spend to ``as_of`` (the newest cost data) and the model.

    Cheap: no fitting. A model fitted on an older origin still serves, shifted by the days that
    passed (their spend is in ``spend``).
    """
    day = period_containing(PeriodKind.DAILY, as_of, zone)
    done = day.elapsed_ratio(as_of)
    offset = max((day.start.date() - model.origin).days, 0)
    days_left = (period_end.astimezone(zone).date() - day.start.date()).days
    if period_end <= as_of:
        days_left = 0
    rest, rest_sd = _weighted_sum(model, offset, days_left, done)
    mean = spend + rest
    bounds = {}
    for name, p in BOUNDS.items():
        bound = rest + _quantile(model, p) * rest_sd
        bounds[name] = spend + max(bound, 0.0)
    probability = _exceed_probability(model, limit - spend, rest, rest_sd)
    horizons = {
        name: float(np.dot(_weights(model, offset, days, done), model.mean))
        for name, days in HORIZONS.items()
    }
    return Forecast(
        method=model.method,
        mean=mean,
        bounds=bounds,
        overrun_probability=probability,
        horizons=horizons,
        exhaustion=_crossing(model, offset, days_left, done, limit - spend, as_of, day.end),
        backtest_mape=model.backtest_mape,
        coverage=dict(model.coverage),
        anomaly_score=model.anomaly_score,
    )


def _path_length(origin: date, period: PeriodKind) -> int:
    # Long enough for the longest period of this kind starting at origin (fiscal years and
    # custom spans included), the 90-day horizon and a week of reuse while a refit is pending.
    longest = math.ceil(period.nominal_days) + 1
    return max(longest, max(HORIZONS.values())) + SEASON + 1


def _weights(model: DailyModel, offset: int, days: int, done: float) -> np.ndarray:
    weights = np.zeros(len(model.mean))
    stop = min(offset + days, len(weights))
    weights[offset:stop] = 1.0
    if days > 0 and offset < len(weights):
        weights[offset] = 1.0 - done
    return weights


def _weighted_sum(model: DailyModel, offset: int, days: int, done: float) -> tuple[float, float]:
    """Expected spend of the next ``days`` days (the first one partly done) and its deviation."""
    weights = _weights(model, offset, days, done)
    if not weights.any():
        return 0.0, 0.0
    mean = float(np.dot(weights, model.mean))
    active = int(np.nonzero(weights)[0][-1]) + 1
    w = weights[:active]
    # A shock on day k moves every later day j by psi[j - k]: sum its effect over the window.
    # For a model fit on an older origin, shocks of the days it has not seen count too.
    effect = np.convolve(w[::-1], model.psi[:active])[:active][::-1]
    variance = model.sigma**2 * float(np.dot(effect, effect)) + (model.mean_sd * w.sum()) ** 2
    return mean, float(np.sqrt(variance))


def _quantile(model: DailyModel, p: float) -> float:
    return float(np.interp(p, PROBS, model.quantiles))


def _exceed_probability(model: DailyModel, threshold: float, mean: float, sd: float) -> float:
    """Probability that the remaining spend exceeds ``threshold``."""
    if threshold < 0:
        return 1.0  # already over: remaining spend is clipped at zero, as the bounds are
    if sd <= 0:
        return float(mean > threshold)
    z = (threshold - mean) / sd
    q, p = model.quantiles, PROBS
    # Beyond the grid the tails decay exponentially at the slope of the grid's outer step.
    if z < q[0]:
        slope = np.log(p[1] / p[0]) / max(q[1] - q[0], 1e-9)
        return float(1.0 - p[0] * np.exp(slope * (z - q[0])))
    if z > q[-1]:
        slope = np.log(p[1] / p[0]) / max(q[-1] - q[-2], 1e-9)
        return float(p[0] * np.exp(-slope * (z - q[-1])))
    return float(1.0 - np.interp(z, q, p))


def _crossing(
    model: DailyModel,
    offset: int,
    days: int,
    done: float,
    room: float,
    as_of: datetime,
    today_end: datetime,
) -> datetime | None:
    """When the expected cumulative spend uses up ``room``; None if not within ``days``."""
    if room <= 0 or days <= 0:
        return None
    weights = _weights(model, offset, days, done)[offset : offset + days]
    daily = weights * model.mean[offset : offset + days]
    cumulative = np.cumsum(daily)
    reached = np.nonzero(cumulative >= room)[0]
    if reached.size == 0:
        return None
    j = int(reached[0])
    before = cumulative[j - 1] if j else 0.0
    share = (room - before) / daily[j] if daily[j] > 0 else 1.0
    if j == 0:
        return as_of + (today_end - as_of) * share
    return today_end + timedelta(days=j - 1 + share)


def _firsts(index: pd.Index) -> np.ndarray:
    """1.0 on the first day of a month, else 0.0."""
    return np.asarray(pd.DatetimeIndex(index).day == 1, dtype=np.float64)


def _first_of_month_fee(series: pd.Series) -> float:
    """A fixed charge on the first of each month (fees, commitments), if there is a clear one."""
    values = series.to_numpy()
    firsts = np.nonzero(_firsts(series.index))[0]
    excess = []
    for i in firsts:
        neighbours = [values[j] for j in (i - SEASON, i + SEASON) if 0 <= j < len(values)]
        if neighbours:
            excess.append(values[i] - float(np.mean(neighbours)))
    if len(excess) < 2:
        return 0.0
    typical = float(np.median(excess))
    spread = float(np.median(np.abs(np.diff(values)))) + 1e-9
    # A fee must stand out from ordinary day-to-day changes in most months, not in one.
    agree = np.mean(np.abs(np.array(excess) - typical) < 0.5 * abs(typical))
    return typical if abs(typical) > 3 * spread and agree >= 0.5 else 0.0


def _fit_ets(
    series: pd.Series, start: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float, float, float, np.ndarray] | None:
    """Damped additive trend, additive weekly season: states, parameters and local error size."""
    if float(series.std()) == 0.0:
        flat = np.full(len(series), float(series.iloc[-1]))
        zeros = np.zeros(len(series))
        return flat, zeros, zeros, 0.0, 0.0, 0.0, 0.9, zeros
    with warnings.catch_warnings():
        # Non-convergence on noisy series is expected; the backtest measures the result.
        warnings.simplefilter("ignore")
        try:
            # The heuristic start needs a few weeks of data and raises below that; the
            # caller then serves the run-rate forecast instead.
            model = ETSModel(
                series,
                error="add",
                trend="add",
                damped_trend=True,
                seasonal="add",
                seasonal_periods=SEASON,
                initialization_method="heuristic",
            )
            result = model.fit(
                start_params=np.array(start) if len(start) == 4 else None,
                disp=False,
                maxiter=_MAX_ITER,
            )
        except (ValueError, np.linalg.LinAlgError):
            return None
    alpha, beta, gamma, phi = (float(v) for v in np.asarray(result.params)[:4])
    states = np.asarray(result.states)
    # Cost noise grows with the level: the error size is measured over recent weeks at each
    # day, so a series that doubled in a year is not judged by last year's noise.
    squared = pd.Series(np.asarray(result.resid, dtype=np.float64) ** 2)
    overall = float(squared.mean())
    local = squared.rolling(LOCAL_DAYS, min_periods=2 * SEASON).mean().fillna(overall)
    sigma = np.sqrt(local.to_numpy())
    if not np.isfinite(states).all() or not np.isfinite(sigma).all():
        return None
    return states[:, 0], states[:, 1], states[:, 2], alpha, beta, gamma, phi, sigma


def _calibrate(
    values: np.ndarray,
    fees: np.ndarray,
    level: np.ndarray,
    trend: np.ndarray,
    seasonal: np.ndarray,
    phi: float,
    psi: np.ndarray,
    sigma: np.ndarray,
    window: int,
) -> tuple[np.ndarray, float | None, dict[str, float]]:
    """Rolling-origin backtest of the window total; calibrated quantiles, MAPE and coverage.

    From each origin the filtered states forecast the rest of a ``window``-day total of which
    ``k`` days are known, for every ``k``. The standardized errors give the quantiles; coverage
    is measured on the newest origins with quantiles from the older ones only.
    """
    normal = stats.norm.ppf(PROBS)
    n = len(values)
    first = 2 * SEASON
    last = n - 2  # an origin needs at least one day after it
    if sigma[-1] <= 0 or last < first:
        return normal * UNCALIBRATED_WIDENING, None, {}
    window = max(1, min(window, n - first - 1))
    steps = np.arange(1, window + 1)
    damp = np.cumsum(phi**steps)
    cumpsi = np.cumsum(psi[:window])
    unit = np.sqrt(np.cumsum(cumpsi**2))  # deviation of an h-day sum per unit shock size
    origins = np.arange(first, last + 1)
    season_index = origins[:, None] - SEASON + (steps[None, :] - 1) % SEASON + 1
    ahead = origins[:, None] + steps[None, :]
    inside = ahead < n
    safe = np.where(inside, ahead, 0)
    predicted = (
        level[origins, None] + damp[None, :] * trend[origins, None] + seasonal[season_index]
    ) + fees[safe]
    predicted = np.clip(predicted, 0.0, None)
    actual = np.where(inside, values[safe], 0.0)
    cum_pred = np.cumsum(np.where(inside, predicted, 0.0), axis=1)
    cum_act = np.cumsum(actual, axis=1)
    past = np.concatenate(([0.0], np.cumsum(values)))
    z_rows, ape_rows, origin_rows = [], [], []
    for known in range(window):
        h = window - known
        ok = (origins + h < n) & (origins - known + 1 >= 0)
        if not ok.any():
            continue
        rows = origins[ok]
        rest_pred = cum_pred[ok, h - 1]
        rest_act = cum_act[ok, h - 1]
        known_spend = past[rows + 1] - past[rows + 1 - known]
        total = known_spend + rest_act
        size = np.maximum(sigma[rows] * unit[h - 1], 1e-12)
        z_rows.append((rest_act - rest_pred) / size)
        with np.errstate(divide="ignore", invalid="ignore"):
            ape_rows.append(np.abs(rest_pred - rest_act) / np.abs(total))
        origin_rows.append(rows)
    if not z_rows:
        return normal * UNCALIBRATED_WIDENING, None, {}
    z = np.concatenate(z_rows)
    ape = np.concatenate(ape_rows)
    at = np.concatenate(origin_rows)
    finite_ape = ape[np.isfinite(ape)]
    mape = float(np.mean(finite_ape)) if finite_ape.size else None
    count = len(np.unique(at))
    quantiles = _blend(z, count)
    coverage: dict[str, float] = {}
    split = np.quantile(at, 1.0 - HOLDOUT_SHARE)
    older, newer = at < split, at >= split
    if older.any() and newer.any():
        earlier = _blend(z[older], len(np.unique(at[older])))
        for name, level_ in LEVELS.items():
            low = np.interp((1 - level_) / 2, PROBS, earlier)
            high = np.interp((1 + level_) / 2, PROBS, earlier)
            coverage[name] = float(np.mean((z[newer] >= low) & (z[newer] <= high)))
    return quantiles, mape, coverage


def _blend(z: np.ndarray, origins: int) -> np.ndarray:
    """Empirical quantiles of ``z``, pulled towards a widened normal when origins are few."""
    empirical = np.quantile(z, PROBS)
    fallback = stats.norm.ppf(PROBS) * UNCALIBRATED_WIDENING
    trust = min(origins / FULL_TRUST_ORIGINS, 1.0)
    return np.maximum.accumulate(trust * empirical + (1 - trust) * fallback)


def _run_rate_model(
    series: pd.Series, origin: date, horizon: int, anomaly: float | None
) -> DailyModel:
    """The average day so far, with the uncertainty of a short sample (Student t, wide)."""
    values = series.to_numpy()
    n = len(values)
    rate = float(np.mean(values))
    spread = float(np.std(values, ddof=1)) if n > 1 else abs(rate)
    # A short sample understates spread: never trust it below half the rate.
    spread = max(spread, 0.5 * abs(rate))
    freedom = max(n - 1, 1)
    return DailyModel(
        method=RUN_RATE,
        origin=origin,
        mean=np.full(horizon, max(rate, 0.0)),
        psi=np.array([1.0]),
        sigma=spread,
        mean_sd=spread / np.sqrt(n),
        quantiles=stats.t.ppf(PROBS, freedom) * UNCALIBRATED_WIDENING,
        anomaly_score=anomaly,
        history_days=n,
    )
