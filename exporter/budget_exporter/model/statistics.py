"""Statistics of a daily series that money budgets and SLOs share.

Pure: days and values in, figures out. Weekday means, z-scores and the least-squares trend with
its p-value read the same for a budget's daily spend and an SLO's daily bad time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from .periods import WEEKDAYS

# Fewer days than two full weeks cannot tell a weekday pattern or a trend from noise.
MIN_PATTERN_DAYS = 14
# Days whose values differ by less than this share of the largest are the same value.
FLAT_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Trend:
    """The least-squares line through a daily series."""

    slope: float  # change of the value per day
    p_value: float  # two-sided, for a slope of zero


def weekday_means(days: Sequence[date], values: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Mean value of each weekday present in ``days``, by weekday name, Monday first."""
    y = np.asarray(values, dtype=np.float64)
    weekdays = np.array([day.weekday() for day in days])
    return {
        WEEKDAYS[weekday]: float(y[weekdays == weekday].mean())
        for weekday in range(7)
        if (weekdays == weekday).any()
    }


def is_flat(values: Sequence[float] | np.ndarray) -> bool:
    """Whether every value is the same, up to the float noise of sums."""
    y = np.asarray(values, dtype=np.float64)
    if len(y) == 0:
        return True
    return bool(np.ptp(y) <= FLAT_TOLERANCE * max(float(np.abs(y).max()), 1e-12))


def linear_trend(days: Sequence[date], values: Sequence[float] | np.ndarray) -> Trend:
    """Least-squares slope of the values per day and its p-value.

    A flat series has no trend, and neither do fewer than three values (no degree of freedom
    is left to judge the slope by).
    """
    y = np.asarray(values, dtype=np.float64)
    # Daily figures come out of sums of floats: a flat month wobbles by ~1e-13, and a regression
    # on that wobble alone reports a "significant" slope of 1e-14 per day.
    if len(y) < 3 or is_flat(y):
        return Trend(0.0, 1.0)  # no trend, and certainly no evidence of one
    x = np.array([(day - days[0]).days for day in days], dtype=np.float64)
    slope, p_value = least_squares_trend(x, y)
    return Trend(slope, p_value if not math.isnan(p_value) else 1.0)


# Keeps the correlation off exactly -1 and 1 in the t statistic (as scipy's linregress does).
_TINY = 1.0e-20


def least_squares_trend(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope of the least-squares line of ``y`` on ``x`` and its two-sided p-value.

    The arithmetic of ``scipy.stats.linregress``, to the last bit, without loading
    scipy.stats (half a second at each start); at least three points, ``x`` not all equal.
    """
    # Only scipy.special, and only when a trend is fitted: the config loads without scipy.
    from scipy import special

    ssxm, ssxym, _, ssym = np.cov(x, y, bias=True).flat
    if ssxm == 0.0 or ssym == 0.0:
        r = math.nan if ssxym == 0 else 0.0
    else:
        r = min(max(ssxym / np.sqrt(ssxm * ssym), -1.0), 1.0)
    freedom = len(x) - 2
    t = r * np.sqrt(freedom / ((1.0 - r + _TINY) * (1.0 + r + _TINY)))
    return float(ssxym / ssxm), float(2 * special.stdtr(freedom, -np.abs(t)))


def z_scores(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Each value's distance from the mean in (population) standard deviations.

    All zeros when the values do not vary: no day stands out of a flat series.
    """
    y = np.asarray(values, dtype=np.float64)
    if len(y) == 0 or is_flat(y):
        return np.zeros(len(y), dtype=np.float64)
    return (y - y.mean()) / y.std()


def percentile(values: Sequence[float] | np.ndarray, share: float) -> float:
    """The ``share`` (0..1) percentile, interpolated linearly between ranks; 0 without values."""
    y = np.asarray(values, dtype=np.float64)
    if len(y) == 0:
        return 0.0
    return float(np.percentile(y, share * 100.0))
