"""Robust anomaly score of the newest day's spend against the same weekday in earlier weeks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

SEASON = 7
WEEKS = 8
MIN_WEEKS = 3
SCALE_DAYS = 91
# 1.4826 x median absolute deviation estimates a standard deviation without letting spikes in.
MAD_TO_SD = 1.4826
# Scores of a series that never moves would divide by zero; a cent-sized floor keeps them finite.
MIN_SCALE = 0.01
# The scale is at least this share of the usual daily spend (and of the weekday's expected
# spend): on a weekday that usually spends nothing, any spend would otherwise score thousands.
SCALE_FLOOR_SHARE = 0.05
# Scores are capped here (documented in the metric's help): beyond it, how unusual a day is
# no longer changes what to do about it.
MAX_SCORE = 100.0


def weekday_expectation(values: np.ndarray, weeks: int = WEEKS) -> np.ndarray:
    """Median of the same weekday over the previous ``weeks`` weeks (NaN without enough weeks)."""
    n = len(values)
    lags = np.arange(1, weeks + 1) * SEASON
    rows = np.arange(n)[:, None] - lags[None, :]
    earlier = np.where(rows >= 0, values[np.clip(rows, 0, None)], np.nan)
    enough = (rows >= 0).sum(axis=1) >= MIN_WEEKS
    expected = np.full(n, np.nan)
    if enough.any():
        expected[enough] = np.nanmedian(earlier[enough], axis=1)
    return expected


# A breakdown value is named as what drove the day only when it stands out this much (the
# alert on the budget total fires above 4): milder wobbles would cost series and say nothing.
MIN_CONTRIBUTOR_SCORE = 3.0


@dataclass(frozen=True)
class Anomaly:
    """How the newest day compares with the same weekday in earlier weeks."""

    score: float  # in robust standard deviations, capped at +-MAX_SCORE
    spend: float  # the newest day's spend
    usual: float  # the median spend of that weekday in the previous weeks


@dataclass(frozen=True)
class AnomalyContributor:
    """The breakdown value whose newest day is most above its usual level."""

    dimension: str
    value: str
    anomaly: Anomaly


def weekday_anomaly_score(values: np.ndarray) -> float | None:
    """The score of ``weekday_anomaly``; None if the series is too short."""
    found = weekday_anomaly(values)
    return found.score if found is not None else None


def top_contributor(candidates: Iterable[AnomalyContributor]) -> AnomalyContributor | None:
    """The candidate with the highest score, if any scores at least MIN_CONTRIBUTOR_SCORE."""
    best = max(candidates, key=lambda item: item.anomaly.score, default=None)
    if best is None or best.anomaly.score < MIN_CONTRIBUTOR_SCORE:
        return None
    return best


def weekday_anomaly(values: np.ndarray) -> Anomaly | None:
    """Residual of the newest day over a robust spread of past residuals; None if too short.

    Medians keep past spikes out of both the expectation and the spread, so a spike stands
    out instead of hiding the next one. Positive means more spend than expected.
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) <= MIN_WEEKS * SEASON:
        return None
    # Only the days that set the spread matter; older ones are not computed.
    values = values[-(SCALE_DAYS + 1 + WEEKS * SEASON) :]
    expected = weekday_expectation(values)
    if np.isnan(expected[-1]):
        return None
    residuals = (values - expected)[:-1][-SCALE_DAYS:]
    residuals = residuals[~np.isnan(residuals)]
    spread = MAD_TO_SD * float(np.median(np.abs(residuals))) if residuals.size else 0.0
    usual = float(np.mean(np.abs(values[:-1][-SCALE_DAYS:])))
    floor = max(SCALE_FLOOR_SHARE * abs(float(expected[-1])), SCALE_FLOOR_SHARE * usual, MIN_SCALE)
    score = (values[-1] - expected[-1]) / max(spread, floor)
    return Anomaly(
        float(np.clip(score, -MAX_SCORE, MAX_SCORE)), float(values[-1]), float(expected[-1])
    )
