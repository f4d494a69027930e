"""Money budget calculations: cost rows and ``now`` in, numbers out. No I/O, no clock."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ..model.costs import Accrual
from ..model.periods import DEFAULT_CALENDAR, Calendar, Period, PeriodKind, period_containing

BURN_WINDOWS: dict[str, timedelta] = {"1d": timedelta(days=1), "7d": timedelta(days=7)}
PERIOD_WINDOW = "period"
OTHER = "other"
NONE_VALUE = "none"

# Filter keys that name a fixed column of the normalized frame rather than a dimension.
FILTER_ALIASES = {"ChargeCategory": "charge_category", "BillingCurrency": "currency"}
_NS = 1_000_000_000
# A charge longer than this is a fee or subscription whose timing the accrual decides; a day
# of usage (25 hours when clocks go back) always spreads over its own period.
LONG_CHARGE_NS = 25 * 3600 * _NS
# Whole months a step must have fallen in, each of them, to be expected again.
RECURRING_MONTHS = 3
# A purchase is new when its service and SKU were not bought in the 92 days before the period.
NEW_PURCHASE_LOOKBACK_NS = 92 * 86400 * _NS
MAX_NEW_PURCHASES = 5
# Filter masks and window shares kept per index: enough for the distinct filters and windows
# of many budgets, bounded (in count and bytes) so unique filters cannot hold one per budget.
MAX_CACHED_ARRAYS = 256
MAX_CACHED_BYTES = 512 << 20
NEW_PURCHASE_HISTORY_NS = 28 * 86400 * _NS


class CostIndex:
    """A normalized cost frame as arrays, prepared once so thousands of budgets stay cheap.

    Dimension columns are kept as category codes, so a filter is an integer lookup and a
    breakdown a weighted bincount. ``charge_start`` says, for all rows or row by row, whether a
    charge longer than a day counts in full at its start (``ends`` then equals ``starts``) or
    spreads over its charge period; ``for_accrual`` gives the same data under another accrual.
    """

    def __init__(self, frame: pd.DataFrame, charge_start: bool | np.ndarray = False):
        self.starts = _epoch_ns(frame["start"])
        self._charged_ends = _epoch_ns(frame["end"])
        self._long = (self._charged_ends - self.starts) > LONG_CHARGE_NS
        self.costs = frame["cost"].to_numpy(dtype=np.float64)
        self._codes: dict[str, np.ndarray] = {}
        self._categories: dict[str, list[str]] = {}
        for column in frame.columns:
            if column in ("start", "end", "cost"):
                continue
            categorical = frame[column].astype("object").fillna("").astype("category")
            self._codes[column] = categorical.cat.codes.to_numpy()
            self._categories[column] = [str(value) for value in categorical.cat.categories]
        # Thousands of budgets share a few filters and windows: each is computed once.
        self._matches: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}
        self.purchases = self.matching("charge_category", ("purchase",))
        self._set_ends(np.broadcast_to(np.asarray(charge_start, dtype=bool), self.starts.shape))
        self._views: dict[Accrual, CostIndex] = {}

    def _set_ends(self, at_start: np.ndarray) -> None:
        self._shares: dict[tuple[int, int], np.ndarray] = {}
        self.ends = np.where(self._long & at_start, self.starts, self._charged_ends)
        # Known steps: purchases, and charges that count at one instant (one-time fees, and
        # recurring fees counted at their start). They count in spend, not in the usage pace.
        self.steps = self.purchases | (self.ends <= self.starts)

    def for_accrual(self, accrual: Accrual | None) -> CostIndex:
        """The same rows with every long charge counted by ``accrual`` (None: as built)."""
        if accrual is None:
            return self
        view = self._views.get(accrual)
        if view is None:
            view = copy.copy(self)
            view._views = {}
            view._set_ends(np.full(self.starts.shape, accrual == "charge_start"))
            self._views[accrual] = view
        return view

    def __len__(self) -> int:
        return len(self.costs)

    def _room(self) -> int:
        """How many row-sized arrays each cache keeps."""
        return max(4, min(MAX_CACHED_ARRAYS, MAX_CACHED_BYTES // max(8 * len(self), 1)))

    @property
    def dimensions(self) -> list[str]:
        """Columns budgets can filter and break down on."""
        return [c for c in self._codes if c not in ("currency", "charge_category")]

    def has_column(self, key: str) -> bool:
        """Whether a filter key names a column of this data."""
        return FILTER_ALIASES.get(key, key) in self._codes

    def matching(self, key: str, values: tuple[str, ...]) -> np.ndarray:
        """Rows whose column ``key`` holds one of ``values`` (no rows if the column is absent)."""
        column = FILTER_ALIASES.get(key, key)
        if column not in self._codes:
            return np.zeros(len(self), dtype=bool)
        if column == "charge_category":
            values = tuple(value.lower() for value in values)
        found = self._matches.get((column, values))
        if found is None:
            wanted = [i for i, value in enumerate(self._categories[column]) if value in values]
            found = np.isin(self._codes[column], wanted)
            found.flags.writeable = False  # shared by every budget with this filter
            if len(self._matches) >= self._room():
                self._matches.pop(next(iter(self._matches)))
            self._matches[(column, values)] = found
        return found

    def excluding_categories(self, categories: frozenset[str]) -> np.ndarray:
        """Rows whose charge category is not in ``categories``."""
        if not categories:
            return np.ones(len(self), dtype=bool)
        return ~self.matching("charge_category", tuple(categories))

    def share_in(self, start: datetime, end: datetime) -> np.ndarray:
        """Share of each row's cost that falls in ``[start, end)``.

        Cost is spread evenly over its charge period, so a daily row counts for half in a
        window that covers half of its day; a one-time charge counts where it starts.
        """
        low, high = _ns(start), _ns(end)
        cached = self._shares.get((low, high))
        if cached is not None:
            return cached
        share = self._share_in(low, high)
        share.flags.writeable = False
        if len(self._shares) >= self._room():
            self._shares.pop(next(iter(self._shares)))
        self._shares[(low, high)] = share
        return share

    def _share_in(self, low: int, high: int) -> np.ndarray:
        length = self.ends - self.starts
        overlap = np.clip(np.minimum(self.ends, high) - np.maximum(self.starts, low), 0, None)
        instant = (length <= 0) & (self.starts >= low) & (self.starts < high)
        with np.errstate(invalid="ignore", divide="ignore"):
            spread = np.where(length > 0, overlap / np.where(length > 0, length, 1), 0.0)
        return np.where(instant, 1.0, spread)

    def values_of(self, column: str, rows: np.ndarray) -> list[str]:
        """The text of ``column`` on each of ``rows`` ('' where the column is absent)."""
        if column not in self._codes:
            return [""] * int(rows.sum())
        names = self._categories[column]
        return [names[code] for code in self._codes[column][rows]]

    def sum_by(self, column: str, mask: np.ndarray, share: np.ndarray) -> list[tuple[str, float]]:
        """Total cost per value of ``column`` over the rows in ``mask``, weighted by ``share``."""
        weights = self.costs[mask] * share[mask]
        if column not in self._codes:
            return [(NONE_VALUE, float(weights.sum()))] if mask.any() else []
        codes = self._codes[column][mask]
        totals = np.bincount(codes, weights=weights, minlength=0)
        present = np.bincount(codes, minlength=0) > 0
        names = self._categories[column]
        return [(names[code] or NONE_VALUE, float(totals[code])) for code in np.nonzero(present)[0]]


@dataclass(frozen=True)
class BudgetSpec:
    """What the calculation needs to know about one budget."""

    name: str
    amount: float
    period: PeriodKind
    filter: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    excluded_categories: frozenset[str] = frozenset()
    thresholds: Mapping[str, float] = field(default_factory=dict)
    breakdown_dimensions: tuple[str, ...] = ()
    breakdown_top: int = 10
    calendar: Calendar = DEFAULT_CALENDAR  # fiscal year, week start or custom dates


@dataclass(frozen=True)
class NewPurchase:
    """A purchase of this period whose service and SKU were not bought in the months before."""

    service: str
    sku: str
    amount: float
    at: datetime  # the first charge of it this period


@dataclass(frozen=True)
class BudgetStatus:
    """A budget's numbers at one moment."""

    name: str
    period: Period
    limit: float
    spend: float
    elapsed_ratio: float
    average_daily_spend: float
    burn_rates: Mapping[str, float]
    projected_exhaustion: datetime | None
    thresholds: Mapping[str, float]
    breakdown: Mapping[str, tuple[tuple[str, float], ...]]
    as_of: datetime
    # Part of ``spend`` that is known steps (purchases, fees counted at once): in the spend,
    # not in the pace that burn rates, the projection and the plan read.
    step_spend: float = 0.0
    # Purchases this period of a service and SKU not bought in the months before.
    new_purchases: tuple[NewPurchase, ...] = ()
    # Spend of the budget's local day so far (the whole day once it is over): a day's bar.
    spend_today: float = 0.0

    @property
    def remaining(self) -> float:
        """Money left in the period; negative once the budget is overspent."""
        return self.limit - self.spend

    @property
    def utilization(self) -> float:
        """Spend as a ratio of the limit; any spend against no limit (0 or below) is infinite."""
        return ratio_of(self.spend, self.limit)

    def threshold_reached(self, severity: str) -> bool:
        """Whether utilization has reached the threshold of ``severity``."""
        return self.utilization >= self.thresholds[severity]


def ratio_of(part: float, whole: float) -> float:
    """``part / whole``; with no whole (0 or below), infinite for a positive part, else 0."""
    if whole > 0:
        return part / whole
    return math.inf if part > 0 else 0.0


def _ns(moment: datetime) -> int:
    return int(pd.Timestamp(moment).value)


def _epoch_ns(column: pd.Series) -> np.ndarray:
    naive = column.dt.tz_convert("UTC").dt.tz_localize(None)
    return naive.astype("datetime64[ns]").to_numpy().astype(np.int64)


def budget_mask(index: CostIndex, spec: BudgetSpec) -> np.ndarray:
    """Rows of ``index`` that count against the budget (filters and charge options)."""
    mask = index.excluding_categories(spec.excluded_categories)
    for key, values in spec.filter.items():
        mask &= index.matching(key, values)
    return mask


def spend_between(index: CostIndex, mask: np.ndarray, start: datetime, end: datetime) -> float:
    """Cost of the masked rows that falls in ``[start, end)``."""
    share = index.share_in(start, end)
    return float(np.dot(index.costs[mask], share[mask]))


def burn_rate(spend: float, window_seconds: float, limit: float, period_seconds: float) -> float:
    """Spend pace over a window relative to the pace that exactly uses the budget (1.0)."""
    if window_seconds <= 0 or period_seconds <= 0:
        return 0.0
    return ratio_of(spend / window_seconds, limit / period_seconds)


def pace_exhaustion(
    spend: float, limit: float, period: Period, as_of: datetime, pace_spend: float | None = None
) -> datetime | None:
    """When spend reaches the limit at the period-to-date pace; None if not this period.

    ``pace_spend`` is the part of ``spend`` that sets the pace (usage, without known steps such
    as purchases); by default all of it. The projection is spend to date plus that pace.
    """
    # Timestamps, not datetime arithmetic: aware datetimes sharing a tzinfo subtract as wall
    # clocks (blind to DST), and a tiny pace would overflow a timedelta.
    pace_spend = spend if pace_spend is None else pace_spend
    elapsed = as_of.timestamp() - period.start.timestamp()
    if spend >= limit or elapsed <= 0 or pace_spend <= 0:
        return None
    seconds_left = (limit - spend) / (pace_spend / elapsed)
    if seconds_left >= period.end.timestamp() - as_of.timestamp():
        return None
    return datetime.fromtimestamp(as_of.timestamp() + seconds_left, tz=UTC)


def new_purchases(
    index: CostIndex, mask: np.ndarray, period: Period, now: datetime
) -> tuple[NewPurchase, ...]:
    """Purchases this period (to ``now``) of a service and SKU not bought in the months before.

    A Savings Plan renewed every month is expected; the first one, or a new reservation, is
    worth one notice. At most ``MAX_NEW_PURCHASES``, the largest first.
    """
    bought = mask & index.purchases
    if not bought.any():
        return ()
    start, stop = _ns(period.start), _ns(now)
    current = bought & (index.starts >= start) & (index.starts < stop)
    if not current.any():
        return ()
    # Without a month of data before the period, a monthly renewal would look new.
    if index.starts[mask].min() > start - NEW_PURCHASE_HISTORY_NS:
        return ()
    before = bought & (index.starts >= start - NEW_PURCHASE_LOOKBACK_NS) & (index.starts < start)
    services, skus = index.values_of("ServiceName", before), index.values_of("SkuId", before)
    known = set(zip(services, skus, strict=True))
    totals: dict[tuple[str, str], tuple[float, int]] = {}
    keys = zip(
        index.values_of("ServiceName", current),
        index.values_of("SkuId", current),
        index.costs[current],
        index.starts[current],
        strict=True,
    )
    for service, sku, cost, at in keys:
        if (service, sku) in known:
            continue
        amount, first = totals.get((service, sku), (0.0, int(at)))
        totals[(service, sku)] = (amount + float(cost), min(first, int(at)))
    found = [
        NewPurchase(service, sku, amount, datetime.fromtimestamp(first / _NS, tz=UTC))
        for (service, sku), (amount, first) in totals.items()
        if amount > 0
    ]
    found.sort(key=lambda item: (-item.amount, item.service, item.sku))
    return tuple(found[:MAX_NEW_PURCHASES])


def recurring_steps_to_come(
    index: CostIndex, mask: np.ndarray, period: Period, as_of: datetime, zone: ZoneInfo
) -> float:
    """Known steps still to come this period: monthly purchases and fees that recur.

    Steps (purchases, fees counted at once) that fell in each of the last ``RECURRING_MONTHS``
    whole months recur: their median monthly total is expected in every month of the period
    still ahead, less what the current month has already seen. A step seen in fewer months is
    a one-off and is not expected again. Periods shorter than a month expect none.
    """
    if period.kind not in (PeriodKind.MONTHLY, PeriodKind.QUARTERLY, PeriodKind.YEARLY) and (
        period.length_seconds < 28 * 86400
    ):
        return 0.0
    rows = mask & index.steps
    if not rows.any():
        return 0.0
    month = period_containing(PeriodKind.MONTHLY, as_of, zone)
    earlier = [month]
    for _ in range(RECURRING_MONTHS):
        before = earlier[-1].preceding()
        assert before is not None  # a calendar month always has one
        earlier.append(before)
    totals = [spend_between(index, rows, m.start, m.end) for m in earlier[1:]]
    if any(total <= 0 for total in totals):
        return 0.0
    monthly = float(np.median(totals))
    seen = spend_between(index, rows, month.start, month.end)
    upcoming = max(monthly - seen, 0.0) if month.start < period.end else 0.0
    following = month.following()
    while following.start < period.end:
        upcoming += monthly
        following = following.following()
    return upcoming


def crossing_time(
    index: CostIndex, mask: np.ndarray, limit: float, start: datetime, end: datetime
) -> datetime | None:
    """When cumulative spend from ``start`` reached ``limit``, to the charge period."""
    share = index.share_in(start, end)
    window = mask & (share > 0)
    starts = np.maximum(index.starts[window], _ns(start))
    if starts.size == 0:
        return None
    order = np.argsort(starts, kind="stable")
    cumulative = np.cumsum((index.costs[window] * share[window])[order])
    reached = np.nonzero(cumulative >= limit)[0]
    if reached.size == 0:
        return None
    moment_ns = int(starts[order][reached[0]])
    return datetime.fromtimestamp(moment_ns / _NS, tz=UTC)


def daily_spend(
    index: CostIndex, mask: np.ndarray, first: date, stop: date, zone: ZoneInfo
) -> pd.Series:
    """Spend of the masked rows per local day from ``first`` to the day before ``stop``.

    Cost is spread evenly over each charge period, as in ``share_in``. Days before the first
    row are left out: a budget whose data starts later has no history there, not zero spend.
    """
    days = pd.date_range(first, stop, freq="D")
    if mask.sum() == 0 or len(days) < 2:
        return pd.Series([], index=pd.DatetimeIndex([]), dtype=np.float64)
    # A midnight in a DST gap moves to the first instant that exists; an ambiguous one (clocks
    # set back at midnight) is the first of the two.
    local = days.tz_localize(zone, nonexistent="shift_forward", ambiguous=np.ones(len(days), bool))
    midnights = local.as_unit("ns").asi8
    starts, ends, costs = index.starts[mask], index.ends[mask], index.costs[mask]
    # Cumulative spend at each midnight, from sorted starts and ends in O(rows log rows): a row
    # adds a linear ramp from its start to its end (instant rows a step at their start).
    origin = midnights[0]
    x = (midnights - origin) / 86400e9
    s = (starts - origin) / 86400e9
    e = (ends - origin) / 86400e9
    instant = e <= s
    cumulative = _before(s[instant], costs[instant], x)
    ramp = ~instant
    rate = costs[ramp] / (e[ramp] - s[ramp])
    cumulative += _before(e[ramp], costs[ramp], x, inclusive=True)
    slope = _before(s[ramp], rate, x) - _before(e[ramp], rate, x, inclusive=True)
    offset = _before(s[ramp], rate * s[ramp], x) - _before(e[ramp], rate * s[ramp], x, True)
    cumulative += x * slope - offset
    first_row = max(int(np.searchsorted(midnights, starts.min(), side="right")) - 1, 0)
    return pd.Series(np.diff(cumulative), index=days[:-1])[first_row:]


def _before(
    times: np.ndarray, amounts: np.ndarray, x: np.ndarray, inclusive: bool = False
) -> np.ndarray:
    """Sum of ``amounts`` whose time is before each ``x`` (at or before if ``inclusive``)."""
    order = np.argsort(times, kind="stable")
    totals = np.concatenate(([0.0], np.cumsum(amounts[order])))
    return totals[np.searchsorted(times[order], x, side="right" if inclusive else "left")]


def top_n(totals: list[tuple[str, float]], n: int) -> tuple[tuple[str, float], ...]:
    """The ``n`` largest values by spend, the rest summed into ``other`` (bounded cardinality)."""
    ranked = sorted(totals, key=lambda item: (-item[1], item[0]))
    head = ranked[:n]
    tail = ranked[n:]
    if tail:
        rest = sum(amount for _, amount in tail)
        merged = dict(head)
        merged[OTHER] = merged.get(OTHER, 0.0) + rest
        head = sorted(merged.items(), key=lambda item: (-item[1], item[0]))
    return tuple(head)


def spend_by_value(
    index: CostIndex,
    spec: BudgetSpec,
    start: datetime,
    end: datetime,
    dimension: str,
    top: int,
) -> dict[str, float]:
    """The budget's spend between ``start`` and ``end`` per value of ``dimension`` (rows without
    a value left out), the ``top`` largest: the cost of each job, say."""
    share = index.share_in(start, end)
    rows = budget_mask(index, spec) & (share > 0)
    column = FILTER_ALIASES.get(dimension, dimension)
    if not index.has_column(column):
        return {}
    totals = [
        (value, amount)
        for value, amount in index.sum_by(column, rows, share)
        if value != NONE_VALUE and abs(amount) >= 1e-9
    ]
    totals.sort(key=lambda item: (-item[1], item[0]))
    return dict(totals[:top])


def evaluate_budget(
    spec: BudgetSpec,
    index: CostIndex,
    now: datetime,
    zone: ZoneInfo,
    data_end: datetime | None,
) -> BudgetStatus:
    """Compute a budget's status for the period containing ``now``.

    Burn-rate windows end at ``as_of``, the end of the newest cost data (at most ``now``):
    billing data arrives with a delay, and a window ending at ``now`` would read the missing
    hours as zero spend.
    """
    period = period_containing(spec.period, now, zone, spec.calendar)
    # A custom period can lie wholly in the past: its figures stop at its end.
    now = min(now, period.end)
    as_of = min(now, data_end) if data_end is not None else now
    # In UTC, so window arithmetic is real time even when ``now`` shares the budget's zone.
    as_of = max(as_of, period.start).astimezone(UTC)
    mask = budget_mask(index, spec)
    today = period_containing(PeriodKind.DAILY, now, zone)
    usage = mask & ~index.steps
    spend = spend_between(index, mask, period.start, now)
    usage_spend = spend_between(index, usage, period.start, now)
    period_seconds = period.length_seconds
    elapsed_as_of = (as_of - period.start).total_seconds()
    # Burn rates and the projection read the usage pace: a planned purchase or a monthly fee
    # counted on the 1st is a step the budget was made for, not a pace that will go on.
    burn_rates = {
        label: burn_rate(
            spend_between(index, usage, as_of - length, as_of),
            length.total_seconds(),
            spec.amount,
            period_seconds,
        )
        for label, length in BURN_WINDOWS.items()
    }
    burn_rates[PERIOD_WINDOW] = burn_rate(usage_spend, elapsed_as_of, spec.amount, period_seconds)
    if spend >= spec.amount:
        exhaustion = crossing_time(index, mask, spec.amount, period.start, now)
    else:
        exhaustion = pace_exhaustion(spend, spec.amount, period, as_of, usage_spend)
    breakdown: dict[str, tuple[tuple[str, float], ...]] = {}
    if spec.breakdown_dimensions:
        share = index.share_in(period.start, now)
        in_period = mask & (share > 0)
        for dimension in spec.breakdown_dimensions:
            column = FILTER_ALIASES.get(dimension, dimension)
            # A value with no spend (free-tier rows, a charge and its credit) adds a series of
            # zeros that users pay for and read nothing in.
            totals = [
                item for item in index.sum_by(column, in_period, share) if abs(item[1]) >= 1e-9
            ]
            breakdown[dimension] = top_n(totals, spec.breakdown_top)
    return BudgetStatus(
        name=spec.name,
        period=period,
        limit=spec.amount,
        spend=spend,
        elapsed_ratio=period.elapsed_ratio(now),
        average_daily_spend=spend / (elapsed_as_of / 86400) if elapsed_as_of > 0 else 0.0,
        burn_rates=burn_rates,
        projected_exhaustion=exhaustion,
        thresholds=dict(spec.thresholds),
        breakdown=breakdown,
        as_of=as_of,
        step_spend=spend - usage_spend,
        spend_today=spend_between(index, mask, max(today.start, period.start), now),
        new_purchases=new_purchases(index, mask, period, now),
    )
