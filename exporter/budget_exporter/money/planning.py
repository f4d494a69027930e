"""The amount in force for a budget period: fixed, planned, auto-adjusted, plus rollover.

Pure: the spend of earlier periods comes in through a function, ``now`` never enters.

Rules, in order of precedence:

* a ``planned`` amount for the period's key (``2026-01``) wins;
* else an auto-adjusting amount derived from earlier periods' spend: ``trailing_average`` (mean
  of the last N complete periods), ``last_period`` (the previous one), or ``forecast`` (the
  least-squares line through the last N periods, extended one period, never below zero);
* else the fixed amount (with ``auto``: the ``initial`` amount, until one period has data).

Rollover adds the unused part of the previous period's own amount (its base, before its own
rollover: carry-over does not compound), capped at ``max`` times this period's base.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from ..model.periods import Period

MAX_AUTO_PERIODS = 24


class AutoMethod(StrEnum):
    """How an auto-adjusting budget derives its amount from earlier periods."""

    TRAILING_AVERAGE = "trailing_average"
    LAST_PERIOD = "last_period"
    FORECAST = "forecast"


class AmountSource(StrEnum):
    """Where the amount in force came from (exported as the ``source`` label)."""

    FIXED = "fixed"
    PLANNED = "planned"
    INITIAL = "initial"
    TRAILING_AVERAGE = "trailing_average"
    LAST_PERIOD = "last_period"
    FORECAST = "forecast"


@dataclass(frozen=True)
class AmountPlan:
    """What decides a budget's amount, period by period."""

    amount: float | None  # the fixed amount, or the initial one of an auto budget
    auto: AutoMethod | None = None
    periods: int = 3  # how many earlier periods an auto amount reads
    planned: Mapping[str, float] = field(default_factory=dict)
    rollover_max: float | None = None  # cap on carried money, as a ratio of the base


@dataclass(frozen=True)
class PlannedAmount:
    """The amount in force for one period and how it was derived."""

    amount: float  # base + rollover: the limit spend is checked against
    base: float
    rollover: float
    source: AmountSource
    periods_used: int = 0  # earlier periods an auto amount was derived from
    rolls_over: bool = False  # the budget carries unused money into the next period


SpendOf = Callable[[Period], float]


def trailing_average(totals: Sequence[float]) -> float:
    """Mean of the period totals."""
    return sum(totals) / len(totals)


def linear_next(totals: Sequence[float]) -> float:
    """The least-squares line through the totals (oldest first), one period on; at least 0."""
    n = len(totals)
    if n == 1:
        return max(totals[0], 0.0)
    mean_x = (n - 1) / 2
    mean_y = sum(totals) / n
    sxx = sum((x - mean_x) ** 2 for x in range(n))
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(totals))
    return max(mean_y + sxy / sxx * (n - mean_x), 0.0)


def auto_amount(method: AutoMethod, totals: Sequence[float]) -> float:
    """The amount an auto-adjusting budget derives from earlier totals (oldest first)."""
    if not totals:
        raise ValueError("an auto amount needs at least one earlier period")
    if method is AutoMethod.LAST_PERIOD:
        return totals[-1]
    if method is AutoMethod.TRAILING_AVERAGE:
        return trailing_average(totals)
    return linear_next(totals)


def rollover(previous_base: float, previous_spend: float, cap_ratio: float, base: float) -> float:
    """Unused money of the previous period carried over, capped at ``cap_ratio`` of ``base``."""
    unused = max(previous_base - previous_spend, 0.0)
    return min(unused, max(cap_ratio, 0.0) * base)


def earlier_periods(period: Period, count: int, data_start: float | None) -> list[Period]:
    """Up to ``count`` complete periods before ``period``, oldest first.

    Periods that begin before the first cost data (``data_start``, Unix time) are left out:
    a budget without history there has no spend to learn from, not zero spend.
    """
    found: list[Period] = []
    current = period.preceding()
    while current is not None and len(found) < count:
        if data_start is None or current.start.timestamp() < data_start:
            break
        found.append(current)
        current = current.preceding()
    return found[::-1]


def base_amount(
    plan: AmountPlan, period: Period, spend_of: SpendOf, data_start: float | None
) -> tuple[float, AmountSource, int] | None:
    """The period's amount before rollover, its source and the periods it read.

    None for an auto budget without history nor initial amount: nothing true to report. An
    auto amount of 0 or below (no spend, or credits) is no limit either: ``initial`` or None.
    """
    if period.key in plan.planned:
        return plan.planned[period.key], AmountSource.PLANNED, 0
    if plan.auto is None:
        assert plan.amount is not None
        return plan.amount, AmountSource.FIXED, 0
    count = 1 if plan.auto is AutoMethod.LAST_PERIOD else plan.periods
    earlier = earlier_periods(period, count, data_start)
    derived = auto_amount(plan.auto, [spend_of(item) for item in earlier]) if earlier else 0.0
    if derived <= 0:
        if plan.amount is None:
            return None
        return plan.amount, AmountSource.INITIAL, 0
    return derived, AmountSource(plan.auto.value), len(earlier)


def amount_in_force(
    plan: AmountPlan, period: Period, spend_of: SpendOf, data_start: float | None
) -> PlannedAmount | None:
    """The limit of ``period``: its base amount plus any rollover from the period before."""
    base = base_amount(plan, period, spend_of, data_start)
    if base is None:
        return None
    amount, source, used = base
    carried = 0.0
    previous = period.preceding()
    if plan.rollover_max is not None and previous is not None:
        before = base_amount(plan, previous, spend_of, data_start)
        has_data = data_start is not None and previous.start.timestamp() >= data_start
        if before is not None and has_data:
            carried = rollover(before[0], spend_of(previous), plan.rollover_max, amount)
    return PlannedAmount(
        amount + carried, amount, carried, source, used, plan.rollover_max is not None
    )
