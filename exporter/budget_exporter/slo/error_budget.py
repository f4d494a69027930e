"""Error budget maths: incident records and ``now`` in, numbers out. No I/O, no clock.

Bad time is the union of the SLO's incident intervals, each weighted by its impact: at any
instant the weight is the highest impact among the incidents open then, so two overlapping
incidents are never counted twice. Times are handled as Unix seconds (floats) inside.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from ..model.incidents import Incident
from ..model.periods import PeriodKind, format_duration, period_containing

# The windows of the multiwindow, multi-burn-rate alerts of the Google SRE workbook:
# 1h & 5m at 14.4, 6h & 30m at 6, 1d & 2h at 3, 3d & 6h at 1.
BURN_WINDOWS: dict[str, timedelta] = {
    "5m": timedelta(minutes=5),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "2h": timedelta(hours=2),
    "6h": timedelta(hours=6),
    "1d": timedelta(days=1),
    "3d": timedelta(days=3),
}
PERIOD_WINDOW = "period"
# Exhaustion "at the current burn rate" reads the rate of this window: short enough to see an
# outage in progress, long enough not to flap on a single bad minute.
CURRENT_WINDOW = "1h"
METHOD_BURN_RATE = "burn_rate"
METHOD_REGRESSION = "linear_regression"
# The window's average: consumption so far over the time the window has covered, continued.
METHOD_AVERAGE = "average"
MAX_CATEGORIES = 10
OTHER = "other"
# Grid steps of the remaining budget in the compound Poisson recursion; error < 1/STEPS of it.
PROBABILITY_STEPS = 500
_DAY = 86400.0


@dataclass(frozen=True)
class Segment:
    """A stretch of time ``[start, end)`` (Unix seconds) that was bad with ``weight`` (0..1)."""

    start: float
    end: float
    weight: float


@dataclass(frozen=True)
class SloSpec:
    """What the calculation needs to know about one SLO.

    Args:
        objective: target ratio of good time, e.g. 0.999.
        window: length of a rolling window; None when ``calendar`` is set.
        calendar: monthly or quarterly windows aligned to the calendar in the zone.
        regression_days: days of consumption the linear regression looks at.
        history: incident history the exhaustion probability learns from.
        horizons: horizons of the exhaustion probability.
    """

    name: str
    objective: float
    window: timedelta | None = timedelta(days=30)
    calendar: PeriodKind | None = None
    filter: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    excluded_categories: frozenset[str] = frozenset()
    regression_days: int = 7
    history: timedelta = timedelta(days=90)
    horizons: tuple[timedelta, ...] = (timedelta(days=30),)


@dataclass(frozen=True)
class SloStatus:
    """An SLO's numbers at one moment."""

    name: str
    objective: float
    window_start: datetime
    window_end: datetime
    budget_seconds: float
    consumed_seconds: float
    burn_rates: Mapping[str, float]
    exhaustion: Mapping[str, datetime]
    exhaustion_probability: Mapping[str, float]
    consumed_by_category: tuple[tuple[str, float], ...]
    open_incidents: int
    window_incidents: int
    as_of: datetime

    @property
    def remaining_seconds(self) -> float:
        """Budget left; negative once the budget is overspent."""
        return self.budget_seconds - self.consumed_seconds

    @property
    def remaining_ratio(self) -> float:
        """Remaining budget as a ratio of the budget; below zero when overspent."""
        return self.remaining_seconds / self.budget_seconds

    @property
    def consumed_ratio(self) -> float:
        """Consumed budget as a ratio of the budget (1 = used up)."""
        return self.consumed_seconds / self.budget_seconds


def _ts(moment: datetime) -> float:
    return moment.timestamp()


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def allowed_ratio(objective: float) -> float:
    """Share of time the objective allows to be bad: 0.001 for 0.999."""
    # Rounded so that 1 - 0.999 is 0.001, not 0.0010000000000000009.
    return round(1.0 - objective, 12)


def error_budget_seconds(window_seconds: float, objective: float) -> float:
    """Allowed bad time over a window: 30 days at 0.999 is 2592 s (43.2 minutes)."""
    return window_seconds * allowed_ratio(objective)


def burn_rate(bad_seconds: float, window_seconds: float, objective: float) -> float:
    """Bad-time ratio over a window divided by the ratio the objective allows (1 = on budget)."""
    if window_seconds <= 0:
        return 0.0
    return (bad_seconds / window_seconds) / allowed_ratio(objective)


def matches(
    incident: Incident,
    filters: Mapping[str, tuple[str, ...]],
    excluded_categories: frozenset[str],
) -> bool:
    """Whether an incident counts for an SLO: every filter matches, its category is counted."""
    if incident.category in excluded_categories:
        return False
    return all(incident.value(key) in values for key, values in filters.items())


def bad_segments(incidents: Iterable[Incident], now: datetime) -> list[Segment]:
    """Disjoint, ordered segments of bad time; open incidents last up to ``now``.

    Where incidents overlap, the segment's weight is the highest impact among them.
    """
    limit = _ts(now)
    spans = []
    for incident in incidents:
        start = _ts(incident.start)
        end = min(_ts(incident.end), limit) if incident.end is not None else limit
        if end > start and incident.impact > 0:
            spans.append((start, end, incident.impact))
    return union_segments(spans)


def union_segments(spans: Sequence[tuple[float, float, float]]) -> list[Segment]:
    """Union of weighted spans ``(start, end, weight)``, keeping the highest weight at each time."""
    boundaries = sorted({point for start, end, _ in spans for point in (start, end)})
    ordered = sorted(spans)
    active: list[tuple[float, float]] = []  # heap of (-weight, end)
    segments: list[Segment] = []
    position = 0
    for left, right in itertools.pairwise(boundaries):
        while position < len(ordered) and ordered[position][0] <= left:
            heapq.heappush(active, (-ordered[position][2], ordered[position][1]))
            position += 1
        while active and active[0][1] <= left:
            heapq.heappop(active)
        if not active:
            continue
        weight = -active[0][0]
        last = segments[-1] if segments else None
        if last is not None and last.end == left and last.weight == weight:
            segments[-1] = Segment(last.start, right, weight)
        else:
            segments.append(Segment(left, right, weight))
    return segments


def bad_seconds(segments: Sequence[Segment], start: float, end: float) -> float:
    """Weighted bad time of ``segments`` inside ``[start, end)``."""
    total = 0.0
    for segment in segments:
        overlap = min(segment.end, end) - max(segment.start, start)
        if overlap > 0:
            total += overlap * segment.weight
    return total


def crossing_time(segments: Sequence[Segment], start: float, budget: float) -> float | None:
    """When bad time counted from ``start`` reached ``budget``; None if it never did."""
    total = 0.0
    for segment in segments:
        begin = max(segment.start, start)
        if segment.end <= begin:
            continue
        gained = (segment.end - begin) * segment.weight
        if total + gained >= budget:
            return begin + (budget - total) / segment.weight
        total += gained
    return None


def window_bounds(spec: SloSpec, now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Start of the SLO window containing ``now`` and its end (``now`` for rolling windows)."""
    if spec.calendar is not None:
        period = period_containing(spec.calendar, now, zone)
        return period.start, period.end
    assert spec.window is not None
    return now - spec.window, now


def _rolling_seconds(spec: SloSpec) -> float | None:
    if spec.calendar is not None or spec.window is None:
        return None
    return spec.window.total_seconds()


def least_squares_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Slope of the least-squares line through the points; 0 with fewer than two distinct xs."""
    if len(xs) < 2:
        return 0.0
    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.float64)
    spread = float(np.sum((x - x.mean()) ** 2))
    if spread == 0:
        return 0.0
    return float(np.sum((x - x.mean()) * (y - y.mean())) / spread)


def projected_exhaustion(remaining: float, rate: float, now: float, limit: float) -> float | None:
    """When ``remaining`` bad seconds are used at ``rate`` per second; None past ``limit``."""
    if rate <= 0 or remaining <= 0:
        return None
    moment = now + remaining / rate
    return moment if moment < limit else None


def regression_rate(
    segments: Sequence[Segment],
    spec: SloSpec,
    window_start: float,
    now: float,
) -> float:
    """Consumption trend in bad seconds per second: the slope of consumed budget sampled daily.

    For a rolling window each sample is the window's consumption as of that day, so incidents
    falling out of the window pull the trend down; for a calendar window the samples are the
    period-to-date consumption, from the period start on.
    """
    xs: list[float] = []
    ys: list[float] = []
    window = _rolling_seconds(spec)
    for day in range(spec.regression_days, -1, -1):
        moment = now - day * _DAY
        if window is None:
            if moment < window_start:
                continue
            consumed = bad_seconds(segments, window_start, moment)
        else:
            consumed = bad_seconds(segments, moment - window, moment)
        xs.append(moment)
        ys.append(consumed)
    if window is None and len(xs) < 2 and now > window_start:
        xs.insert(0, window_start)
        ys.insert(0, 0.0)
    return least_squares_slope(xs, ys)


def compound_poisson_density(mean_count: float, sizes: Sequence[float], step: float) -> np.ndarray:
    """P(sum of N sizes = k steps) for k < PROBABILITY_STEPS, N ~ Poisson(mean_count).

    Panjer's recursion; sizes are rounded up to the grid, so the sum errs on the high side.
    """
    steps = PROBABILITY_STEPS
    density = np.zeros(steps, dtype=np.float64)
    if mean_count <= 0 or not sizes:
        density[0] = 1.0
        return density
    severity = np.zeros(steps + 1, dtype=np.float64)
    for size in sizes:
        index = min(math.ceil(size / step - 1e-9), steps)
        severity[index] += 1.0 / len(sizes)
    density[0] = math.exp(-mean_count * (1.0 - severity[0]))
    weights = mean_count * np.arange(steps + 1, dtype=np.float64) * severity
    for k in range(1, steps):
        # f(k) = (lambda / k) * sum_{j=1..k} j p(j) f(k - j)
        density[k] = float(np.dot(weights[1 : k + 1], density[k - 1 :: -1][:k])) / k
    return density


def open_incident_density(age: float, impact: float, horizon: float, step: float) -> np.ndarray:
    """P(the rest of an open incident costs k steps) for k < PROBABILITY_STEPS.

    Gott's rule: an incident open for ``age`` seconds lasts ``x`` more with P(> x) =
    age / (age + x), so its median rest is its age; the rest is cut at ``horizon``. Costs are
    rounded up to the grid; the mass at or above the last step is left out (it exhausts).
    """
    steps = PROBABILITY_STEPS
    density = np.zeros(steps, dtype=np.float64)
    if age <= 0 or impact <= 0:
        density[0] = 1.0
        return density
    edges = np.arange(steps, dtype=np.float64) * step / impact  # rest durations, seconds
    at_most = np.where(edges < horizon, 1.0 - age / (age + edges), 1.0)  # P(rest <= edge)
    density[0] = at_most[0]
    density[1:] = np.diff(at_most)
    return density


def compound_poisson_tail(
    mean_count: float,
    sizes: Sequence[float],
    threshold: float,
    extra: float = 0.0,
    open_incidents: Sequence[tuple[float, float]] = (),
    horizon: float = math.inf,
) -> float:
    """P(extra + open rest + sum of N sizes >= threshold), N ~ Poisson(mean_count).

    ``sizes`` are drawn uniformly; each of ``open_incidents`` (age, impact) adds the cost of its
    rest by Gott's rule (``open_incident_density``). Computed on a grid of
    ``threshold / PROBABILITY_STEPS`` seconds, rounding up, so the result errs on the side of
    exhaustion.
    """
    needed = threshold - extra
    if needed <= 0:
        return 1.0
    step = needed / PROBABILITY_STEPS
    density = compound_poisson_density(mean_count, sizes, step)
    for age, impact in open_incidents:
        rest = open_incident_density(age, impact, horizon, step)
        density = np.convolve(density, rest)[:PROBABILITY_STEPS]
    below = float(density.sum())
    # Rounded so that float noise (2e-16) does not read as a tiny risk.
    return round(min(1.0, max(0.0, 1.0 - below)), 9)


def exhaustion_probability(
    incidents: Sequence[Incident],
    now: datetime,
    history: timedelta,
    horizon: timedelta,
    remaining: float,
) -> float:
    """Probability that the remaining budget runs out within ``horizon``, from incident history.

    Incidents of the last ``history`` are taken as a Poisson process: their count over the
    history gives the rate, and each new incident costs the impact-weighted duration of a past
    incident drawn at random (open incidents count with their duration so far). An incident
    still open goes on by Gott's rule (as long again as it has lasted, at the median; longer
    with the odds age / (age + rest)), cut at the horizon: an outage burning fast now weighs
    as much as the budget it can take before it ends. Old consumption leaving a rolling
    window is ignored, so the result is an upper bound.
    """
    if remaining <= 0:
        return 1.0
    limit = _ts(now)
    since = limit - history.total_seconds()
    sizes: list[float] = []
    still_open: list[tuple[float, float]] = []
    count = 0
    for incident in incidents:
        start = _ts(incident.start)
        if start < since or start >= limit:
            continue
        count += 1
        end = _ts(incident.end) if incident.end is not None else limit
        sizes.append((min(end, limit) - start) * incident.impact)
        if incident.end is None or end > limit:
            still_open.append((limit - start, incident.impact))
    mean_count = count / history.total_seconds() * horizon.total_seconds()
    return compound_poisson_tail(
        mean_count, sizes, remaining, open_incidents=still_open, horizon=horizon.total_seconds()
    )


def consumption_by_category(
    incidents: Sequence[Incident], now: datetime, start: float, end: float
) -> tuple[tuple[str, float], ...]:
    """Bad seconds in ``[start, end)`` per category, largest first, at most MAX_CATEGORIES.

    Each category is a union of its own; categories that overlap in time each count it.
    """
    groups: dict[str, list[Incident]] = {}
    for incident in incidents:
        groups.setdefault(incident.category, []).append(incident)
    totals = [
        (category, bad_seconds(bad_segments(members, now), start, end))
        for category, members in groups.items()
    ]
    ranked = sorted(((c, t) for c, t in totals if t > 0), key=lambda item: (-item[1], item[0]))
    if len(ranked) <= MAX_CATEGORIES:
        return tuple(ranked)
    head = ranked[: MAX_CATEGORIES - 1]
    rest = sum(total for _, total in ranked[MAX_CATEGORIES - 1 :])
    return (*head, (OTHER, rest))


def _open_at(incident: Incident, moment: float) -> bool:
    return incident.end is None or _ts(incident.end) > moment


def horizon_label(horizon: timedelta) -> str:
    """Label value of a horizon, e.g. ``30d``."""
    return format_duration(horizon)


def projections(
    segments: Sequence[Segment],
    spec: SloSpec,
    rates: Mapping[str, float],
    window: tuple[float, float],
    now: float,
) -> dict[str, datetime]:
    """Projected exhaustion by method; the moment it ran out once the budget is spent."""
    start, end = window
    budget = error_budget_seconds(end - start, spec.objective)
    remaining = budget - bad_seconds(segments, start, now)
    if remaining <= 0:
        crossed = crossing_time(segments, start, budget)
        if crossed is None:
            return {}
        return {
            method: _moment(crossed)
            for method in (METHOD_BURN_RATE, METHOD_REGRESSION, METHOD_AVERAGE)
        }
    # A calendar budget resets at period end; a rolling one has shed all of today's
    # consumption one window from now, so projections further out say nothing.
    limit = end if spec.calendar is not None else now + (end - start)
    current = rates[CURRENT_WINDOW] * allowed_ratio(spec.objective)
    trend = regression_rate(segments, spec, start, now)
    # What the window has consumed per second of the time it covers so far. A rolling window
    # sheds old consumption as it moves, which this ignores: like the trend, it errs early.
    covered = min(now, end) - start
    average = (budget - remaining) / covered if covered > 0 else 0.0
    found = {}
    for method, rate in (
        (METHOD_BURN_RATE, current),
        (METHOD_REGRESSION, trend),
        (METHOD_AVERAGE, average),
    ):
        moment = projected_exhaustion(remaining, rate, now, limit)
        if moment is not None:
            found[method] = _moment(moment)
    return found


def evaluate_slo(
    spec: SloSpec, incidents: Sequence[Incident], now: datetime, zone: ZoneInfo
) -> SloStatus:
    """Compute an SLO's error budget, burn rates and projections at ``now``."""
    counted = [i for i in incidents if matches(i, spec.filter, spec.excluded_categories)]
    segments = bad_segments(counted, now)
    start, end = window_bounds(spec, now, zone)
    now_s, start_s, end_s = _ts(now), _ts(start), _ts(end)
    budget = error_budget_seconds(end_s - start_s, spec.objective)
    consumed = bad_seconds(segments, start_s, now_s)
    rates = {
        label: burn_rate(
            bad_seconds(segments, now_s - window.total_seconds(), now_s),
            window.total_seconds(),
            spec.objective,
        )
        for label, window in BURN_WINDOWS.items()
    }
    rates[PERIOD_WINDOW] = burn_rate(consumed, now_s - start_s, spec.objective)
    # A calendar budget resets at period end, so no horizon reaches past it.
    until_reset = timedelta(seconds=max(end_s - now_s, 0.0))
    probabilities = {
        horizon_label(horizon): exhaustion_probability(
            counted,
            now,
            spec.history,
            min(horizon, until_reset) if spec.calendar is not None else horizon,
            budget - consumed,
        )
        for horizon in spec.horizons
    }
    in_window = {
        i.id for i in counted if _ts(i.start) < now_s and (i.end is None or _ts(i.end) > start_s)
    }
    open_now = {i.id for i in counted if _ts(i.start) <= now_s and _open_at(i, now_s)}
    return SloStatus(
        name=spec.name,
        objective=spec.objective,
        window_start=start,
        window_end=end,
        budget_seconds=budget,
        consumed_seconds=consumed,
        burn_rates=rates,
        exhaustion=projections(segments, spec, rates, (start_s, end_s), now_s),
        exhaustion_probability=probabilities,
        consumed_by_category=consumption_by_category(counted, now, start_s, now_s),
        open_incidents=len(open_now),
        window_incidents=len(in_window),
        as_of=now,
    )
