"""Config models for budget planning and insights: auto amounts, rollover, rates, thresholds."""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Discriminator, Field, Tag

from ..model.fields import StrictModel
from ..model.periods import WEEKDAYS, PeriodKind
from ..money.planning import MAX_AUTO_PERIODS, AutoMethod

MAX_AMOUNT = 1e12
# A cent: smaller amounts are a typo (1e-300 passed and made every ratio absurd).
MIN_AMOUNT = 0.01
MONTH_KEY = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
DAY_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Union members are tagged so that error paths can drop the tag: ``budgets[2].amount``.
UNION_TAGS = frozenset({"<number>", "<auto>", "<rate>", "<by-month>"})

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _finite(value: float) -> float:
    if math.isnan(value) or math.isinf(value):
        raise ValueError("must be a finite number")
    return value


def _not_a_flag(value: Any) -> Any:
    # YAML reads `true` as a boolean, which pydantic would take as 1.0.
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not {str(value).lower()}")
    return value


def _amount_value(value: float) -> float:
    if math.isnan(value):
        raise ValueError("must be a finite number, not NaN")
    if value <= 0:
        raise ValueError("Input should be greater than 0")
    if value > MAX_AMOUNT:
        raise ValueError(f"Input should be less than or equal to {MAX_AMOUNT:.0f}")
    if value < MIN_AMOUNT:
        raise ValueError(f"must be at least {MIN_AMOUNT} (a cent): a smaller amount is a typo")
    return value


Amount = Annotated[float, BeforeValidator(_not_a_flag), AfterValidator(_amount_value)]


class AutoAmountConfig(StrictModel):
    """``amount: {auto: trailing_average, periods: 3}``: derived from earlier periods' spend."""

    auto: AutoMethod
    periods: int = Field(default=3, ge=1, le=MAX_AUTO_PERIODS)
    initial: Amount | None = None  # in force until a complete period of history exists


def _amount_kind(value: Any) -> str:
    return "<auto>" if isinstance(value, dict) else "<number>"


AmountSetting = Annotated[
    Annotated[Amount, Tag("<number>")] | Annotated[AutoAmountConfig, Tag("<auto>")],
    Discriminator(_amount_kind),
]


class RolloverConfig(StrictModel):
    """``rollover: {max: 0.2}``: unused money carried into the next period, capped."""

    max: float = Field(gt=0, le=1)  # as a ratio of the next period's own amount


def _month_keys(value: Any) -> Any:
    # YAML reads 2026-01-05 as a date; planned keys and rate months compare as text.
    if isinstance(value, dict):
        return {k.isoformat() if isinstance(k, date) else str(k): v for k, v in value.items()}
    return value


Planned = Annotated[dict[str, Amount], BeforeValidator(_month_keys)]


def check_planned(planned: dict[str, float], period: PeriodKind) -> list[str]:
    """Problems with planned period keys: the format each period kind is named by."""
    problems = []
    monthly = period in (PeriodKind.MONTHLY, PeriodKind.QUARTERLY, PeriodKind.YEARLY)
    for key in planned:
        if monthly and not MONTH_KEY.match(key):
            problems.append(
                f"planned key {key!r}: a {period.value} period is named by the month it "
                "starts in, such as 2026-01"
            )
        elif not monthly and not _is_day(key):
            problems.append(
                f"planned key {key!r}: a {period.value} period is named by its first day, "
                "such as 2026-01-05"
            )
    return problems


def _is_day(key: str) -> bool:
    if not DAY_KEY.match(key):
        return False
    try:
        date.fromisoformat(key)
    except ValueError:
        return False
    return True


RateTable = Annotated[dict[str, float], BeforeValidator(_month_keys)]


def _rate_kind(value: Any) -> str:
    return "<by-month>" if isinstance(value, dict) else "<rate>"


ExchangeRate = Annotated[
    Annotated[float, Tag("<rate>")] | Annotated[RateTable, Tag("<by-month>")],
    Discriminator(_rate_kind),
]


def check_rates(rates: dict[str, float | dict[str, float]]) -> dict[str, float | dict[str, float]]:
    """Currency codes are ISO 4217; rates are positive; month tables are keyed ``2026-01``.

    Every bad code, month and rate is named, not only the first.
    """
    problems = []
    for code, rate in rates.items():
        if len(code) != 3 or not code.isupper():
            problems.append(f"{code!r} is not an ISO 4217 currency code such as EUR")
        table = rate if isinstance(rate, dict) else {"": rate}
        if not table:
            problems.append(f"rates for {code} by month are empty")
        for month, value in table.items():
            where = f"{code} {month}".strip()
            if month and not MONTH_KEY.match(month):
                problems.append(f"rate month {month!r} of {code}: write it as 2026-01")
            if not value > 0 or math.isinf(value):
                problems.append(f"rate for {where} must be a positive number")
    if problems:
        raise ValueError("; ".join(problems))
    return rates


def week_start_index(day: Weekday) -> int:
    """0 for Monday to 6 for Sunday."""
    return WEEKDAYS.index(day)
