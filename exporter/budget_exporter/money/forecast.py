"""Spend forecasts: daily cost history in, period total with calibrated intervals out.

Pure: no I/O, no clock. The expensive part, :func:`fit_daily_model`, runs once per new day of
cost data; :func:`forecast_period` is cheap and runs at every evaluation with the spend to date.

Several candidates forecast the rest of the period: the run-rate, trailing means of 7 and 28
days, exponential smoothing of the level alone (``ets_no_season``) and a damped trend on top
of a robust weekly profile (``ets``). Each is scored on a rolling-origin backtest of the period
total at the budget's current elapsed point (same known days, same days left); the one with
the lowest error serves, and one whose error exceeds the run-rate's on the same origins never
does. The interval of the period total comes from the same backtest: the quantiles of the log
ratio of the actual rest of a window to its forecast. docs/forecasts.md explains each step.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ..model.periods import PeriodKind, period_containing
from .anomaly import weekday_anomaly_score

ETS = "ets"  # damped trend on a robust, adaptive weekly profile
ETS_NO_SEASON = "ets_no_season"  # exponential smoothing of the level alone
TRAILING_28 = "trailing_mean_28d"
TRAILING_7 = "trailing_mean_7d"
RUN_RATE = "run_rate"  # spend of the period so far / days so far: the baseline to beat
# On an exact tie (a flat series) the first one wins: the full model, then simpler ones.
METHODS = (ETS, ETS_NO_SEASON, TRAILING_28, TRAILING_7, RUN_RATE)

REASON_BEST = "lowest backtest error of the period total"
REASON_FEW = "too few backtest origins to compare models: the run-rate serves"
REASON_NONE = "no candidate beat the run-rate on the backtest"
REASON_SHIFT = "level shift: the run-rate cannot follow it"

SEASON = 7
HISTORY_DAYS = 365
HORIZONS: dict[str, int] = {"30d": 30, "90d": 90}
LEVELS: dict[str, float] = {"0.8": 0.8, "0.95": 0.95}
BOUNDS: dict[str, float] = {
    "lower_95": 0.025,
    "lower_80": 0.1,
    "upper_80": 0.9,
    "upper_95": 0.975,
}
# Calibrated quantiles of the log error of the remaining spend, on this grid.
PROBS = np.array(
    [0.005, 0.01, 0.025, 0.05, *np.round(np.arange(0.1, 0.91, 0.05), 2), 0.95, 0.975, 0.99, 0.995]
)
# Backtest windows span the budget's period, up to a quarter a side: a year of history cannot
# test longer ones.
MAX_BACKTEST_WINDOW = 92
# An origin needs two weeks before it, so that every candidate has a state to forecast from.
WARMUP_DAYS = 14
# Windows that share most of their days are not independent: this many origins count as one
# per day left in the period (a daily budget's origins are all independent).
# Below this many independent origins the choice is noise and the run-rate serves.
MIN_CHOICE_ORIGINS = 2
# The newest half of the origins is held out to measure the error and coverage users will see;
# below this many independent held-out origins those figures are withheld, not guessed.
HOLDOUT_SHARE = 0.5
MIN_REPORTED_ORIGINS = 4
# With this many independent origins the empirical quantiles are trusted fully; with fewer
# they are pulled towards normal ones from the full model's noise. Without any origin, Student's
# t quantiles widened by UNCALIBRATED_WIDENING serve (a short sample is optimistic).
FULL_TRUST_ORIGINS = 12
UNCALIBRATED_WIDENING = 1.5
# The log error is taken of (spend + offset): the offset, 1% of a recent typical day per day,
# keeps a rest near zero finite without moving ordinary totals.
OFFSET_SHARE = 0.01
TYPICAL_DAYS = 28
CENT = 0.01
# Weekly profile: the median ratio of a day to its centred week, over 8 weeks of that weekday.
PROFILE_WEEKS = 8
MIN_PROFILE_WEEKS = 3
# Weekdays below this share of an average day carry too little to measure the level on.
MIN_PROFILE = 0.2
# A level shift: at least two days in a row beyond 3 robust deviations of the candidate's own
# one-step errors over the 8 weeks before, on the same side.
SHIFT_SIGMAS = 3.0
SHIFT_MIN_DAYS = 2
NOISE_DAYS = 56
MAD_TO_SD = 1.4826
# While the forecast rests on a few days since a shift, its interval is widened by 1 + 2 / days.
SHIFT_WIDENING = 2.0
# Smoothing weights tried; each candidate keeps those with the least one-step error.
_ALPHAS = np.array([0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9])
_BETAS = np.array([0.0, 0.05, 0.15])
_PHIS = np.array([0.8, 0.9, 0.98])


@dataclass(frozen=True)
class Choice:
    """Which candidate serves the forecast, why, and the backtest behind it."""

    reason: str
    # Mean absolute percentage error of the period total per candidate, on the same origins.
    scores: Mapping[str, float] = field(default_factory=dict)
    origins: int = 0  # backtest origins scored
    held_out: int = 0  # independent held-out origins behind backtest_mape and coverage
    shift_days: int | None = None  # days since the level shift the forecast re-anchored on


@dataclass(frozen=True)
class DailyModel:
    """A model fitted on complete days before ``origin``; serves forecasts until it is refit."""

    method: str
    origin: date  # first day the model forecasts
    mean: np.ndarray  # expected spend of day origin + j, clipped at zero
    # Quantiles at PROBS of log((actual rest + offset) / (forecast rest + offset)), calibrated.
    quantiles: np.ndarray
    offset: float  # per remaining day, in currency
    backtest_mape: float | None = None
    coverage: Mapping[str, float] = field(default_factory=dict)
    anomaly_score: float | None = None
    history_days: int = 0
    params: tuple[float, ...] = ()  # smoothing weights of the chosen candidate
    choice: Choice = field(default_factory=lambda: Choice(REASON_FEW))


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
    choice: Choice = field(default_factory=lambda: Choice(REASON_FEW))


@dataclass(frozen=True)
class _Candidate:
    """States of one candidate at every origin t = 0..n (from the days before t)."""

    name: str
    level: np.ndarray  # daily rate, before the weekly profile and fees
    trend: np.ndarray
    phi: float = 0.0
    seasonal: bool = False
    fees: bool = True  # the run-rate spreads fees like any spend, as a user's estimate does
    params: tuple[float, ...] = ()
    shift: np.ndarray | None = None  # days since a level shift at each origin, 0 for none
    noise: np.ndarray | None = None  # robust deviation of its one-step errors at each origin


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
    span: tuple[date, date] | None = None,
) -> DailyModel | None:
    """Choose and fit the model on complete days before ``origin``; None without any history.

    Args:
        history: spend per local day (index: dates); missing dates are treated as unknown.
        origin: the first day to forecast, usually the day of the newest cost data.
        period: the budget's period, whose length sets the backtest window.
        span: first day and day after the last of the period being forecast; by default the
            calendar period of ``period`` containing ``origin``.
    """
    series = prepare_history(history, origin)
    if series.empty:
        return None
    if span is None:
        current = period_containing(period, datetime(*origin.timetuple()[:3], tzinfo=UTC), _UTC)
        span = current.start.date(), current.end.date()
    known = min(max((origin - span[0]).days, 0), MAX_BACKTEST_WINDOW)
    rest = min(max((span[1] - origin).days, 1), MAX_BACKTEST_WINDOW)
    values = series.to_numpy()
    n = len(values)
    days = pd.DatetimeIndex(series.index)
    horizon = max(_path_length(period), (span[1] - origin).days + SEASON + 1)
    future = pd.date_range(pd.Timestamp(origin), periods=horizon, freq="D")
    first_weekday = int(days[0].day_of_week)
    fee = _first_of_month_fee(series) if n >= WARMUP_DAYS else 0.0
    firsts = _firsts(days)
    adjusted = values - fee * firsts
    profile = _weekly_profile(adjusted, first_weekday)
    candidates = _candidates(values, adjusted, profile, first_weekday, known)
    typical = _typical(values)
    # Day-to-day noise is best told by the full model's errors: the weekly swing is not noise.
    noise = candidates[0].noise
    backtest = _Backtest(values, firsts, fee, profile, first_weekday, known, rest, typical, noise)
    scored = [backtest.score(c) for c in candidates]
    origins = backtest.origins
    independent = len(origins) / rest
    names = [c.name for c in candidates]
    ape = np.array([s[0] for s in scored]) if scored and len(origins) else np.empty((0, 0))
    z = np.array([s[1] for s in scored]) if scored and len(origins) else np.empty((0, 0))
    everything = np.ones(len(origins), dtype=bool)
    chosen, reason, scores = _choose(names, ape, everything, independent)

    # The newest half is held out: the choice and the quantiles come from windows that ended
    # before it, the reported figures from it, as a user would check them after the fact.
    mape: float | None = None
    coverage: dict[str, float] = {}
    held = 0
    if len(origins):
        split = origins[int(len(origins) * (1 - HOLDOUT_SHARE))]
        older = origins + rest <= split
        newer = origins >= split
        held = int(newer.sum() / rest)
        pick, _, _ = _choose(names, ape, older, older.sum() / rest)
        if held >= MIN_REPORTED_ORIGINS and older.any():
            errors = ape[pick][newer]
            errors = errors[np.isfinite(errors)]
            mape = float(errors.mean()) if errors.size else None
            _, coverage = _held_out(
                errors,
                z[pick][older],
                z[pick][newer],
                older.sum() / rest,
                backtest.fallback_sd(candidates[pick], origins[newer]),
            )
    model = candidates[chosen]
    shift_days = int(model.shift[n]) if model.shift is not None and model.shift[n] else None
    if model.name == RUN_RATE:
        moving = [c for c in candidates if c.shift is not None and c.shift[n]]
        if moving:
            # The run-rate averages days before and after a shift; follow the new level.
            model = min(moving, key=lambda c: scores.get(c.name, math.inf))
            reason, chosen = REASON_SHIFT, names.index(model.name)
            shift_days = int(model.shift[n]) if model.shift is not None else None
    # scipy.special, not scipy.stats: the same quantile functions (norm.ppf is ndtri, t.ppf is
    # stdtrit) for a quarter of the import time; imported where a model is fitted, so that
    # commands fitting none (check) never load scipy.
    from scipy import special

    fallback = backtest.fallback_sd(model, np.array([n]))[0] * special.ndtri(PROBS)
    if len(origins):
        quantiles = _blend(z[chosen], independent, fallback)
    else:
        # No window fits in the history: a short sample, read with Student's t.
        freedom = max(n - 1, 1)
        sd = backtest.fallback_sd(model, np.array([n]))[0]
        quantiles = special.stdtrit(freedom, PROBS) * sd * UNCALIBRATED_WIDENING
    if shift_days:
        middle = float(np.interp(0.5, PROBS, quantiles))
        quantiles = middle + (quantiles - middle) * (1 + SHIFT_WIDENING / shift_days)
    mean = _path(model, n, profile, int(future[0].day_of_week), horizon)
    if model.fees:
        mean = mean + fee * _firsts(future)
    return DailyModel(
        method=model.name,
        origin=origin,
        mean=np.clip(mean, 0.0, None),
        quantiles=quantiles,
        offset=OFFSET_SHARE * float(typical[n]),
        backtest_mape=mape,
        coverage=coverage,
        anomaly_score=weekday_anomaly_score(values),
        history_days=n,
        params=model.params,
        choice=Choice(reason, scores, len(origins), held, shift_days),
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
    weights = _weights(model, offset, days_left, done)
    rest = float(np.dot(weights, model.mean))
    # Log errors of (rest + offset): the bounds stay above the spend to date while spend is
    # expected, as the rest of a period that spends every day is never nothing.
    pad = model.offset * float(weights.sum())
    base = rest + pad
    bounds = {}
    for name, p in BOUNDS.items():
        bound = base * math.exp(_quantile(model, p)) - pad if base > 0 else 0.0
        bounds[name] = spend + max(bound, 0.0)
    horizons = {
        name: float(np.dot(_weights(model, offset, days, done), model.mean))
        for name, days in HORIZONS.items()
    }
    return Forecast(
        method=model.method,
        mean=spend + rest,
        bounds=bounds,
        overrun_probability=_exceed_probability(model, limit - spend, base, pad),
        horizons=horizons,
        exhaustion=_crossing(model, offset, days_left, done, limit - spend, as_of, day.end),
        backtest_mape=model.backtest_mape,
        coverage=dict(model.coverage),
        anomaly_score=model.anomaly_score,
        choice=model.choice,
    )


_UTC = ZoneInfo("UTC")


def _path_length(period: PeriodKind) -> int:
    # Long enough for the longest period of this kind (fiscal years and custom spans included),
    # the 90-day horizon and a week of reuse while a refit is pending.
    longest = math.ceil(period.nominal_days) + 1
    return max(longest, max(HORIZONS.values())) + SEASON + 1


def _weights(model: DailyModel, offset: int, days: int, done: float) -> np.ndarray:
    weights = np.zeros(len(model.mean))
    stop = min(offset + days, len(weights))
    weights[offset:stop] = 1.0
    if days > 0 and offset < len(weights):
        weights[offset] = 1.0 - done
    return weights


def _quantile(model: DailyModel, p: float) -> float:
    return float(np.interp(p, PROBS, model.quantiles))


def _exceed_probability(model: DailyModel, room: float, base: float, pad: float) -> float:
    """Probability that the remaining spend exceeds ``room``."""
    if room < 0:
        return 1.0  # already over: remaining spend is clipped at zero, as the bounds are
    if base <= 0:
        return 0.0
    z = math.log((room + pad) / base) if room + pad > 0 else -math.inf
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


def _cumulative(values: np.ndarray) -> np.ndarray:
    return np.concatenate(([0.0], np.cumsum(values)))


def _typical(values: np.ndarray) -> np.ndarray:
    """Mean absolute spend of the TYPICAL_DAYS before each origin t = 0..n, at least a cent."""
    n = len(values)
    cum = _cumulative(np.abs(values))
    t = np.arange(n + 1)
    lo = np.maximum(t - TYPICAL_DAYS, 0)
    mean = (cum[t] - cum[lo]) / np.maximum(t - lo, 1)
    return np.maximum(mean, CENT)


def _spread(values: np.ndarray) -> np.ndarray:
    """Standard deviation of the TYPICAL_DAYS before each origin t = 0..n (0 with one day)."""
    n = len(values)
    cum, squares = _cumulative(values), _cumulative(values**2)
    t = np.arange(n + 1)
    lo = np.maximum(t - TYPICAL_DAYS, 0)
    count = t - lo
    mean = (cum[t] - cum[lo]) / np.maximum(count, 1)
    variance = (squares[t] - squares[lo]) / np.maximum(count, 1) - mean**2
    corrected = variance * count / np.maximum(count - 1, 1)
    return np.sqrt(np.clip(np.where(count > 1, corrected, 0.0), 0.0, None))


def _weekly_profile(adjusted: np.ndarray, first_weekday: int) -> np.ndarray:
    """Weekday profile (mean 1) known at each origin t = 0..n, shape (n + 1, 7) by weekday.

    The ratio of each day to the centred week around it, then per weekday the median of its
    last PROFILE_WEEKS ratios: one odd week cannot set the pattern, and it follows a pattern
    that changes. At origin t the newest ratio is of day t - 4, whose week ends at t - 1.
    """
    n = len(adjusted)
    profile = np.ones((n + 1, SEASON))
    if n < SEASON + 3:
        return profile
    cum = _cumulative(adjusted)
    centred = np.full(n, np.nan)
    centred[3 : n - 3] = (cum[SEASON : n + 1] - cum[: n + 1 - SEASON]) / SEASON
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(centred > CENT, adjusted / centred, np.nan)
    rows = np.arange(n)[:, None] - np.arange(PROFILE_WEEKS)[None, :] * SEASON
    stack = np.where(rows >= 0, ratio[np.clip(rows, 0, None)], np.nan)
    enough = np.isfinite(stack).sum(axis=1) >= MIN_PROFILE_WEEKS
    medians = np.full(n, np.nan)
    if enough.any():
        medians[enough] = np.nanmedian(stack[enough], axis=1)
    t = np.arange(n + 1)[:, None]
    weekday = np.arange(SEASON)[None, :]
    newest = t - 4 - ((first_weekday + t - 4 - weekday) % SEASON)
    known = np.where(newest >= 0, medians[np.clip(newest, 0, None)], np.nan)
    complete = np.isfinite(known).all(axis=1)
    known = np.clip(known[complete], 0.0, None)
    average = known.mean(axis=1, keepdims=True)
    ok = average[:, 0] > 0
    rows_ok = np.nonzero(complete)[0][ok]
    profile[rows_ok] = known[ok] / average[ok]
    return profile


def _day_profile(profile: np.ndarray, first_weekday: int) -> np.ndarray:
    """The profile value of each day d = 0..n-1 as known at its own origin."""
    n = len(profile) - 1
    d = np.arange(n)
    return profile[d, (first_weekday + d) % SEASON]


def _smooth(
    series: np.ndarray, alphas: np.ndarray, betas: np.ndarray, phis: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """Damped-trend exponential smoothing over a grid of weights; the least one-step error wins.

    NaN days carry the states forward. Returns level and trend at every origin t = 0..n.
    """
    grid = np.array(np.meshgrid(alphas, betas, phis, indexing="ij")).reshape(3, -1)
    alpha, beta, phi = grid
    n = len(series)
    finite = series[np.isfinite(series)]
    level = np.full(alpha.shape, float(finite[:SEASON].mean()) if finite.size else 0.0)
    trend = np.zeros_like(level)
    levels = np.empty((n + 1, len(alpha)))
    trends = np.empty_like(levels)
    levels[0], trends[0] = level, trend
    squared = np.zeros_like(level)
    gain = alpha * beta
    for d in range(n):
        predicted = level + phi * trend
        value = series[d]
        if value == value:  # not NaN
            error = value - predicted
            if d >= SEASON:
                squared += error * error
            level = predicted + alpha * error
            trend = phi * trend + gain * error
        else:
            level = predicted
            trend = phi * trend
        levels[d + 1], trends[d + 1] = level, trend
    best = int(np.argmin(squared))
    params = (float(alpha[best]), float(beta[best]), float(phi[best]))
    return levels[:, best], trends[:, best], params


def _trailing(values: np.ndarray, days: int) -> np.ndarray:
    """Mean of the ``days`` days before each origin t = 0..n (fewer near the start)."""
    n = len(values)
    cum = _cumulative(values)
    t = np.arange(n + 1)
    lo = np.maximum(t - days, 0)
    return (cum[t] - cum[lo]) / np.maximum(t - lo, 1)


def _run_rate(values: np.ndarray, known: int) -> np.ndarray:
    """Spend of the ``known`` days of the period before each origin per day; with none known,
    the pace of the last 30 days (the previous period's, roughly)."""
    return _trailing(values, known if known > 0 else 30)


def _candidates(
    values: np.ndarray,
    adjusted: np.ndarray,
    profile: np.ndarray,
    first_weekday: int,
    known: int,
) -> list[_Candidate]:
    n = len(values)
    zeros = np.zeros(n + 1)
    scale = _day_profile(profile, first_weekday)
    with np.errstate(divide="ignore", invalid="ignore"):
        seasonal_input = np.where(scale >= MIN_PROFILE, adjusted / scale, np.nan)
    level, trend, (alpha, beta, phi) = _smooth(seasonal_input, _ALPHAS, _BETAS, _PHIS)
    plain, _, (plain_alpha, _, _) = _smooth(adjusted, _ALPHAS, np.zeros(1), np.ones(1))
    built = [
        _Candidate(ETS, level, trend, phi, True, params=(alpha, beta, phi)),
        _Candidate(ETS_NO_SEASON, plain, zeros, params=(plain_alpha,)),
        # Whole weeks of spend give the pace; the weekly profile spreads it over the days.
        _Candidate(TRAILING_28, _trailing(adjusted, 4 * SEASON), zeros, seasonal=True),
        _Candidate(TRAILING_7, _trailing(adjusted, SEASON), zeros, seasonal=True),
    ]
    anchored = [
        _anchor(c, seasonal_input if c.seasonal else adjusted) for c in built if n >= WARMUP_DAYS
    ]
    rate = _Candidate(RUN_RATE, _run_rate(values, known), zeros, fees=False)
    return [*(anchored or built), rate]


def _anchor(candidate: _Candidate, series: np.ndarray) -> _Candidate:
    """Re-anchor the level where the newest days left the candidate's own noise band.

    A day is beyond the band when its one-step error exceeds SHIFT_SIGMAS robust deviations of
    the candidate's errors over the NOISE_DAYS before it (and 2% of the level). After two such
    days in a row on the same side, a new regime starts at the first of them: at every origin
    in it the level is the mean of the regime's days and the trend zero, so the forecast follows
    a shutdown or a launch within two days. The regime ends when the candidate's own level has
    caught up with it, after NOISE_DAYS, or when two days leave the regime's band in turn.
    """
    n = len(series)
    predicted = candidate.level[:n] + candidate.phi * candidate.trend[:n]
    error = series - predicted
    padded = np.concatenate((np.full(NOISE_DAYS, np.nan), np.abs(error)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, NOISE_DAYS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows at the start
        noise = np.nan_to_num(MAD_TO_SD * np.nanmedian(windows, axis=1), nan=0.0)
    own = (candidate.level + candidate.phi * candidate.trend).tolist()
    values = series.tolist()
    cum = _cumulative(np.nan_to_num(series)).tolist()
    count = _cumulative(np.isfinite(series).astype(np.float64)).tolist()
    noise_of = noise.tolist()
    shift = np.zeros(n + 1, dtype=np.int64)
    level = candidate.level.copy()
    trend = candidate.trend.copy()
    start, run, side = -1, 0, 0.0
    for d in range(WARMUP_DAYS, n):
        value = values[d]
        if value != value:  # NaN: nothing observed, the regime (if any) goes on
            if start >= 0:
                shift[d + 1], level[d + 1], trend[d + 1] = d + 1 - start, level[d], 0.0
            continue
        if start < 0:
            reference, spread = own[d], noise_of[d]
        else:
            days = count[d] - count[start]
            reference = (cum[d] - cum[start]) / max(days, 1.0)
            if days >= 5:
                spread = MAD_TO_SD * float(np.nanmedian(np.abs(series[start:d] - reference)))
        band = SHIFT_SIGMAS * max(spread, 0.02 * abs(reference) + CENT)
        deviation = value - reference
        if abs(deviation) > band:
            sign = 1.0 if deviation > 0 else -1.0
            run = run + 1 if sign == side else 1
            side = sign
        else:
            run, side = 0, 0.0
        if run >= SHIFT_MIN_DAYS:
            start, run, side = d - SHIFT_MIN_DAYS + 1, 0, 0.0
            spread = noise_of[start]
        if start < 0:
            continue
        since = (cum[d + 1] - cum[start]) / max(count[d + 1] - count[start], 1.0)
        caught_up = abs(own[d + 1] - since) <= band and d + 1 - start > SHIFT_MIN_DAYS
        if caught_up or d + 1 - start > NOISE_DAYS:
            start = -1
            continue
        shift[d + 1], level[d + 1], trend[d + 1] = d + 1 - start, since, 0.0
    return dataclasses.replace(candidate, level=level, trend=trend, shift=shift, noise=noise)


def _damping(phi: float, days: int) -> np.ndarray:
    """Cumulative damped trend weight of day j = 0..days-1 ahead: phi + ... + phi^(j+1)."""
    return np.cumsum(phi ** np.arange(1, days + 1))


def _path(
    candidate: _Candidate, t: int, profile: np.ndarray, weekday: int, days: int
) -> np.ndarray:
    """Expected spend of the ``days`` days from origin ``t`` (fees not included)."""
    path = candidate.level[t] + _damping(candidate.phi, days) * candidate.trend[t]
    if candidate.seasonal:
        path = path * profile[t, (weekday + np.arange(days)) % SEASON]
    return np.asarray(path, dtype=np.float64)


class _Backtest:
    """Windows of the period's shape inside the history: ``known`` days, then ``rest`` days.

    Origins are every day t with the known days and the warm-up before it and the rest inside
    the history; each candidate forecasts the rest from its states at t.
    """

    def __init__(
        self,
        values: np.ndarray,
        firsts: np.ndarray,
        fee: float,
        profile: np.ndarray,
        first_weekday: int,
        known: int,
        rest: int,
        typical: np.ndarray,
        noise: np.ndarray | None,
    ):
        n = len(values)
        self.noise = noise
        self.rest = rest
        self.profile = profile
        self.first_weekday = first_weekday
        self.typical = typical
        self.spread = _spread(values)
        # Slow candidates start far from their level: with a long history, the first eight
        # weeks (a third of a short one) only warm them up.
        warmup = max(WARMUP_DAYS, min(2 * TYPICAL_DAYS, n // 3))
        self.origins = np.arange(max(warmup, known), n - rest + 1)
        t = self.origins
        cum = _cumulative(values)
        self.actual = cum[t + rest] - cum[t]
        self.total = cum[t + rest] - cum[t - known]
        self.fees = fee * (_cumulative(firsts)[t + rest] - _cumulative(firsts)[t])
        self.pad = OFFSET_SHARE * rest * typical[t]
        # Per weekday of the first forecast day: how many of the rest days fall on each
        # weekday, and the damped trend weight they carry.
        self.phases = (first_weekday + t) % SEASON
        self.count = np.zeros((SEASON, SEASON))
        ahead = np.arange(rest)
        for start in range(SEASON):
            np.add.at(self.count[start], (start + ahead) % SEASON, 1.0)

    def score(self, candidate: _Candidate) -> tuple[np.ndarray, np.ndarray]:
        """Absolute percentage error of the period total and log error of the rest, per origin."""
        t = self.origins
        damp = _damping(candidate.phi, self.rest)
        if candidate.seasonal:
            weights = np.zeros((SEASON, SEASON))
            ahead = np.arange(self.rest)
            for start in range(SEASON):
                np.add.at(weights[start], (start + ahead) % SEASON, damp)
            profile = self.profile[t]
            days = (profile * self.count[self.phases]).sum(axis=1)
            trend_days = (profile * weights[self.phases]).sum(axis=1)
        else:
            days = np.full(len(t), float(self.rest))
            trend_days = np.full(len(t), float(damp.sum()))
        predicted = candidate.level[t] * days + candidate.trend[t] * trend_days
        if candidate.fees:
            predicted = predicted + self.fees
        predicted = np.clip(predicted, 0.0, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            ape = np.abs(predicted - self.actual) / np.abs(self.total)
        ape = np.where(np.abs(self.total) > CENT * self.rest, ape, np.nan)
        z = np.log((np.clip(self.actual, 0.0, None) + self.pad) / (predicted + self.pad))
        return ape, z

    def fallback_sd(self, candidate: _Candidate, at: np.ndarray) -> np.ndarray:
        """Standard deviation of the log error of the rest for normal quantiles, per origin.

        The one-step error size of the full model (or the spread of recent days; from fewer than
        two weeks, never below half a typical day: a short sample understates it), for a sum of
        ``rest`` days whose level is itself a mean of recent days.
        """
        typical = self.typical[at]
        sample = np.clip(at, 1, TYPICAL_DAYS)
        own = self.noise[at] if self.noise is not None else self.spread[at]
        spread = np.where(sample < WARMUP_DAYS, np.maximum(own, 0.5 * typical), own)
        sd = spread * np.sqrt(self.rest + self.rest**2 / sample)
        expected = np.abs(candidate.level[at]) * self.rest + OFFSET_SHARE * self.rest * typical
        return sd / np.maximum(expected, CENT)


def _choose(
    names: list[str], ape: np.ndarray, mask: np.ndarray, independent: float
) -> tuple[int, str, dict[str, float]]:
    """Index of the candidate to serve, why, and every candidate's score on ``mask``."""
    rate = names.index(RUN_RATE)
    if independent < MIN_CHOICE_ORIGINS or not mask.any() or ape.size == 0:
        return rate, REASON_FEW, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a candidate without finite errors
        means = np.nanmean(ape[:, mask], axis=1)
    scores = {name: float(m) for name, m in zip(names, means, strict=True) if np.isfinite(m)}
    if RUN_RATE not in scores:
        return rate, REASON_FEW, scores
    eligible = np.where(np.isfinite(means) & (means <= means[rate]), means, np.inf)
    best = int(np.argmin(eligible))
    return best, (REASON_BEST if best != rate else REASON_NONE), scores


def _held_out(
    ape: np.ndarray,
    z_older: np.ndarray,
    z_newer: np.ndarray,
    independent: float,
    fallback: np.ndarray,
) -> tuple[float | None, dict[str, float]]:
    """Error and coverage on held-out origins, with quantiles from the older origins only."""
    finite = ape[np.isfinite(ape)]
    mape = float(finite.mean()) if finite.size else None
    trust = min(independent / FULL_TRUST_ORIGINS, 1.0)
    empirical = _empirical(z_older[np.isfinite(z_older)], independent)
    from scipy import special  # where a model is fitted, as in fit_daily_model

    normal = special.ndtri(PROBS)
    # One row of quantiles per held-out origin: the fallback's spread is that origin's own.
    quantiles = trust * empirical[None, :] + (1 - trust) * normal[None, :] * fallback[:, None]
    quantiles = np.maximum.accumulate(quantiles, axis=1)
    coverage = {}
    for name, level in LEVELS.items():
        low = quantiles[:, _grid_index((1 - level) / 2)]
        high = quantiles[:, _grid_index((1 + level) / 2)]
        coverage[name] = float(np.mean((z_newer >= low) & (z_newer <= high)))
    return mape, coverage


def _grid_index(p: float) -> int:
    return int(np.argmin(np.abs(PROBS - p)))


def _blend(z: np.ndarray, independent: float, fallback: np.ndarray) -> np.ndarray:
    """Empirical quantiles of ``z``, pulled towards the fallback's when origins are few."""
    finite = z[np.isfinite(z)]
    if finite.size == 0:
        return np.maximum.accumulate(fallback)
    empirical = _empirical(finite, independent)
    trust = min(independent / FULL_TRUST_ORIGINS, 1.0)
    return np.maximum.accumulate(trust * empirical + (1 - trust) * fallback)


def _empirical(z: np.ndarray, independent: float) -> np.ndarray:
    """Quantiles of ``z`` at PROBS, each moved outwards for a sample of ``independent`` draws.

    The empirical quantiles of a small sample cover less than their level on the next draw;
    reading them at levels stretched by 1 + 1 / independent around the median (as a conformal
    interval does) restores the coverage.
    """
    stretch = 1 + 1 / max(independent, 1.0)
    return np.quantile(z, np.clip(0.5 + (PROBS - 0.5) * stretch, 0.0, 1.0))
