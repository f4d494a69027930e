"""Cost Explorer ``ResultsByTime`` -> per-day rows, and cached days -> the normalized frame.

Group keys arrive as the dimension's value (``Amazon Simple Storage Service``), or for tags and
cost categories as ``key$value`` (``team$web``; ``team$`` when the tag is absent). ``Amount`` is
a decimal string; credits and refunds are negative already.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd

from ...model.bad_rows import BadRow, BadRows
from ...model.costs import empty_cost_frame, normalize

# GetCostAndUsage dimensions under their FOCUS names; the others become x_CamelCase columns.
FOCUS_NAMES = {
    "SERVICE": "ServiceName",
    "LINKED_ACCOUNT": "SubAccountId",
    "REGION": "RegionId",
    "AZ": "AvailabilityZone",
    "LEGAL_ENTITY_NAME": "InvoiceIssuerName",
}
CURRENCY = re.compile(r"^[A-Z]{3}$")


def column_name(kind: str, key: str) -> str:
    """The frame column a group-by key fills."""
    if kind == "TAG":
        return f"tags.{key}"
    if kind == "COST_CATEGORY":
        return f"costcategory.{key}"
    if key in FOCUS_NAMES:
        return FOCUS_NAMES[key]
    return "x_" + "".join(part.capitalize() for part in key.split("_"))


def record_type_category(record_type: str) -> str:
    """Charge category of a Cost Explorer record type (``Credit``, ``Tax``, ``Recurring...``)."""
    text = record_type.lower()
    if "credit" in text:
        return "credit"
    if "refund" in text:
        return "refund"
    if "tax" in text:
        return "tax"
    if "fee" in text:
        # Reservation and Savings Plans fees, support: bought, not metered.
        return "purchase"
    return "usage"


@dataclass
class Day:
    """One UTC day of results: provisional or final, and its rows ``[*keys, amount, unit]``."""

    estimated: bool
    rows: list[list[Any]] = field(default_factory=list)


@dataclass(frozen=True)
class GroupKey:
    """One GroupBy entry as sent, with the column it fills."""

    type: str
    key: str
    column: str


def split_key(group: GroupKey, value: str) -> str:
    """The value part of a response key; tags and cost categories come as ``key$value``."""
    if group.type in ("TAG", "COST_CATEGORY"):
        prefix, separator, rest = value.partition("$")
        return rest if separator else prefix
    return value


def parse_results(
    results: Iterable[Mapping[str, Any]], metric: str, groups: tuple[GroupKey, ...], where: str
) -> tuple[dict[date, Day], BadRows]:
    """Merge result pages into days; a page may repeat a day with more of its groups."""
    days: dict[date, Day] = {}
    bad = BadRows()
    for position, result in enumerate(results, start=1):
        period = result.get("TimePeriod", {})
        try:
            day = date.fromisoformat(str(period.get("Start", ""))[:10])
        except ValueError:
            bad = bad + _bad(where, position, f"TimePeriod.Start {period.get('Start')!r}")
            continue
        entry = days.setdefault(day, Day(estimated=False))
        entry.estimated = entry.estimated or bool(result.get("Estimated", False))
        if groups:
            items = [
                (list(g.get("Keys", [])), g.get("Metrics", {})) for g in result.get("Groups", [])
            ]
        else:
            items = [([], result.get("Total", {}))] if result.get("Total") else []
        for keys, metrics in items:
            row, reason = _row(keys, metrics, metric, groups)
            if row is None:
                bad = bad + _bad(where, position, f"{day}: {reason}")
            elif row[-2] != 0.0:
                entry.rows.append(row)
    return days, bad


def _row(
    keys: list[str], metrics: Mapping[str, Any], metric: str, groups: tuple[GroupKey, ...]
) -> tuple[list[Any] | None, str]:
    if len(keys) != len(groups):
        return None, f"group has {len(keys)} keys, expected {len(groups)}"
    value = metrics.get(metric)
    if not isinstance(value, Mapping):
        return None, f"no {metric} in group {keys}"
    try:
        amount = float(str(value.get("Amount")))
    except ValueError:
        return None, f"{metric} Amount {value.get('Amount')!r} is not a number"
    if not math.isfinite(amount):
        return None, f"{metric} Amount {value.get('Amount')!r} is not finite"
    unit = str(value.get("Unit", ""))
    if not CURRENCY.match(unit):
        return None, f"{metric} Unit {unit!r} is not a currency code"
    return [*(split_key(g, k) for g, k in zip(groups, keys, strict=True)), amount, unit], ""


def _bad(where: str, position: int, reason: str) -> BadRows:
    return BadRows(1, (BadRow(where, position, reason),))


def days_frame(days: Mapping[date, Day], groups: tuple[GroupKey, ...]) -> pd.DataFrame:
    """The normalized frame of cached days: one-day charge periods ``[day, day + 1)`` in UTC."""
    columns = [g.column for g in groups]
    records = [[day, *row] for day, entry in days.items() for row in entry.rows]
    if not records:
        return empty_cost_frame(("ProviderName", *columns))
    raw = pd.DataFrame(records, columns=["day", *columns, "cost", "currency"])
    start = pd.to_datetime(raw["day"]).dt.tz_localize("UTC")
    frame = pd.DataFrame(
        {
            "start": start,
            "end": start + pd.Timedelta(days=1),
            "cost": raw["cost"].astype("float64"),
            "currency": raw["currency"],
        }
    )
    record_types = [g.column for g in groups if g.type == "DIMENSION" and g.key == "RECORD_TYPE"]
    if record_types:
        frame["charge_category"] = raw[record_types[0]].map(record_type_category)
    else:
        frame["charge_category"] = "usage"
    frame["ProviderName"] = "AWS"
    for column in columns:
        frame[column] = raw[column]
    return normalize(frame)


def day_range(start: date, end: date) -> list[date]:
    """Days from ``start`` up to ``end`` excluded."""
    return [start + timedelta(days=offset) for offset in range((end - start).days)]
