"""Insights on an SLO's daily consumption: burn statistics, unusual days, weekday, trend, advice.

Pure: an SLO's incidents, its status and the time zone in, figures out. The statistics are the
ones money budgets use (``model.statistics``), read on the bad time of each complete local day
of the SLO window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

import numpy as np

from ..model.incidents import Incident
from ..model.periods import PeriodKind, period_containing
from ..model.statistics import (
    MIN_PATTERN_DAYS,
    Trend,
    linear_trend,
    percentile,
    weekday_means,
    z_scores,
)
from .error_budget import Segment, SloSpec, SloStatus, allowed_ratio, bad_segments
from .error_budget import matches as counts_for

# A day further than this many standard deviations above the window's mean is an unusual burn.
ANOMALY_Z = 3.0
# Exhaustion probability at which the advice moves up a tier (the alert fires at ACT).
ADVICE_WATCH = 0.1
ADVICE_ACT = 0.5
BURN_PERCENTILE = 0.95


class ExhaustionAdvice(StrEnum):
    """What the chance of running out of error budget asks for (the ``advice`` label)."""

    OK = "ok"  # below ADVICE_WATCH: release as usual
    WATCH = "watch"  # below ADVICE_ACT: review risky changes
    ACT = "act"  # at or above ADVICE_ACT: spend on reliability before features


@dataclass(frozen=True)
class DailyConsumption:
    """Bad time of one complete local day of the window."""

    day: date
    bad_seconds: float
    burn_rate: float  # bad time over the day's even share of the error budget


@dataclass(frozen=True)
class UnusualDay:
    """A day whose bad time stands out of the window's days."""

    day: date
    bad_seconds: float
    z_score: float


@dataclass(frozen=True)
class SloAnalytics:
    """Everything this module says about one SLO."""

    days: int  # complete local days of the window read
    mean_burn_rate: float | None  # None without a complete day
    p95_burn_rate: float | None
    anomalous_days: tuple[UnusualDay, ...]
    weekday_burn_rates: Mapping[str, float]  # empty with fewer than MIN_PATTERN_DAYS days
    trend: Trend | None  # of daily bad seconds, per day; None with fewer than MIN_PATTERN_DAYS
    advice: ExhaustionAdvice
    probability: float  # the highest exhaustion probability over the horizons
    horizon: str  # the horizon it belongs to; empty without one


def advice(probability: float) -> ExhaustionAdvice:
    """The advice tier of an exhaustion probability."""
    if probability >= ADVICE_ACT:
        return ExhaustionAdvice.ACT
    if probability >= ADVICE_WATCH:
        return ExhaustionAdvice.WATCH
    return ExhaustionAdvice.OK


def daily_consumption(
    segments: Sequence[Segment],
    objective: float,
    window_start: datetime,
    now: datetime,
    zone: ZoneInfo,
) -> tuple[DailyConsumption, ...]:
    """Bad time of each complete local day inside ``[window_start, now)``, oldest first.

    Only whole days: a day cut by the window's start or by ``now`` would read low and pull the
    weekday means and the trend down.
    """
    day = period_containing(PeriodKind.DAILY, window_start, zone)
    if day.start < window_start:
        day = day.following()
    dates, edges = [], [day.start.timestamp()]
    while day.end <= now:
        dates.append(day.start.date())
        edges.append(day.end.timestamp())
        day = day.following()
    if not dates:
        return ()
    # Bad time up to each midnight at once (midnights x segments), not one scan per day: a
    # quarter of thousands of incidents stays a few milliseconds.
    bounds = np.array(edges, dtype=np.float64)
    starts = np.array([s.start for s in segments], dtype=np.float64)
    ends = np.array([s.end for s in segments], dtype=np.float64)
    weights = np.array([s.weight for s in segments], dtype=np.float64)
    inside = np.clip(bounds[:, None] - starts[None, :], 0.0, ends - starts) * weights
    bad = np.diff(inside.sum(axis=1))
    shares = np.diff(bounds) * allowed_ratio(objective)
    return tuple(
        DailyConsumption(when, float(seconds), float(seconds / share))
        for when, seconds, share in zip(dates, bad, shares, strict=True)
    )


def unusual_days(
    daily: Sequence[DailyConsumption], threshold: float = ANOMALY_Z
) -> tuple[UnusualDay, ...]:
    """The days whose bad time is more than ``threshold`` standard deviations above the mean."""
    scores = z_scores([item.bad_seconds for item in daily])
    return tuple(
        UnusualDay(item.day, item.bad_seconds, float(score))
        for item, score in zip(daily, scores, strict=True)
        if score > threshold
    )


def analytics(
    daily: Sequence[DailyConsumption], probabilities: Mapping[str, float]
) -> SloAnalytics:
    """Burn statistics, unusual days, weekday pattern, trend and advice of one SLO."""
    rates = np.array([item.burn_rate for item in daily], dtype=np.float64)
    days = [item.day for item in daily]
    seconds = [item.bad_seconds for item in daily]
    patterned = len(daily) >= MIN_PATTERN_DAYS
    horizon, probability = max(probabilities.items(), key=lambda item: item[1], default=("", 0.0))
    return SloAnalytics(
        days=len(daily),
        mean_burn_rate=float(rates.mean()) if len(rates) else None,
        p95_burn_rate=percentile(rates, BURN_PERCENTILE) if len(rates) else None,
        anomalous_days=unusual_days(daily),
        weekday_burn_rates=weekday_means(days, rates) if patterned else {},
        trend=linear_trend(days, seconds) if patterned else None,
        advice=advice(probability),
        probability=probability,
        horizon=horizon,
    )


def slo_analytics(
    spec: SloSpec, incidents: Sequence[Incident], status: SloStatus, zone: ZoneInfo
) -> SloAnalytics:
    """The analytics of an SLO evaluated into ``status`` from ``incidents``."""
    counted = [i for i in incidents if counts_for(i, spec.filter, spec.excluded_categories)]
    segments = bad_segments(counted, status.as_of)
    end = min(status.as_of, status.window_end)
    daily = daily_consumption(segments, spec.objective, status.window_start, end, zone)
    return analytics(daily, status.exhaustion_probability)
