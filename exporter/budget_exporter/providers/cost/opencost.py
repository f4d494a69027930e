"""OpenCost: Kubernetes cost allocation per day, by namespace, controller, label and more.

OpenCost reports amounts without a currency (it prices in the one it was set up with), so the
currency comes from this provider's config or the exporter's.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pandas as pd

from ...model.bad_rows import BadRow, BadRows
from ...model.costs import CostData, empty_cost_frame
from ...model.costs import normalize as normalize_frame
from ...model.errors import ProviderError
from ..base import CostProvider, ProviderConfig, ProviderContext
from ..support.daily import RecentDays, cache_path
from ..support.http import HttpClient
from .opencost_config import OpenCostConfig, dimension_name

UTC = ZoneInfo("UTC")
IDLE = "__idle__"
# Allocations OpenCost cannot attribute to the aggregated properties, named as a whole.
SPECIAL_NAMES = frozenset({IDLE, "__unmounted__", "__unallocated__"})


class OpenCostProvider(CostProvider[OpenCostConfig]):
    """Daily Kubernetes costs from OpenCost's allocation API, idle cost kept as ``__idle__``."""

    type_name: ClassVar[str] = "opencost"
    config_model: ClassVar[type[ProviderConfig]] = OpenCostConfig

    def __init__(self, name: str, config: ProviderConfig, context: ProviderContext):
        super().__init__(name, config, context)
        self.http = HttpClient(name, timeout=self.settings.timeout.total_seconds())
        self._days = RecentDays(cache_path(context, name, config))

    def fetch(self, now: datetime) -> CostData:
        settings = self.settings
        plan = self._days.plan(now, settings.history, settings.settlement_lag, UTC)
        end = min(plan.until, now.astimezone(UTC).replace(microsecond=0))
        answer = self.http.get_json(
            f"{settings.url.rstrip('/')}/allocation/compute",
            params={
                "window": f"{_rfc3339(plan.since)},{_rfc3339(end)}",
                "aggregate": ",".join(settings.aggregate),
                "step": "1d",
                "accumulate": "false",
                "includeIdle": str(settings.include_idle).lower(),
                "shareIdle": str(settings.share_idle).lower(),
            },
            headers=self._auth_header(),
        )
        fresh, bad = self._to_frame(answer, now)
        return self._days.cost_data(plan, fresh, bad)

    def _to_frame(self, answer: Any, now: datetime) -> tuple[pd.DataFrame, BadRows]:
        if not isinstance(answer, dict):
            raise ProviderError(f"provider {self.name}: OpenCost answered without a JSON object")
        code = answer.get("code", 200)
        if code != 200:
            message = str(answer.get("message") or answer.get("status") or "no message")[:300]
            raise ProviderError(f"provider {self.name}: OpenCost answered code {code}: {message}")
        sets = answer.get("data")
        if not isinstance(sets, list):
            raise ProviderError(f"provider {self.name}: OpenCost answer has no data list")
        aggregate = self.settings.aggregate
        dimensions = [dimension_name(item) for item in aggregate]
        records: list[dict[str, Any]] = []
        bad: list[BadRow] = []
        for index, allocations in enumerate(sets):
            if not allocations:
                continue  # a step with nothing allocated comes back as null or {}
            if not isinstance(allocations, dict):
                raise ProviderError(f"provider {self.name}: data[{index}] is not an object")
            for name, allocation in allocations.items():
                where = f"data[{index}][{name!r}]"
                record, reason = _record(str(name), allocation, aggregate, dimensions, now)
                if record is None:
                    bad.append(BadRow(self.name, index + 1, f"{where}: {reason}"))
                else:
                    records.append(record)
        bad_rows = BadRows(len(bad), tuple(bad[:20]))
        if not records:
            return empty_cost_frame(tuple(dimensions)), bad_rows
        frame = pd.DataFrame(records)
        frame["currency"] = self.settings.currency or self.context.currency
        frame["charge_category"] = "usage"
        frame["ProviderName"] = "OpenCost"
        return normalize_frame(frame), bad_rows

    def _auth_header(self) -> dict[str, str]:
        settings = self.settings
        token = self.secret(settings.token, settings.token_file, "token_file")
        return {"Authorization": f"Bearer {token}"} if token else {}


def _record(
    name: str,
    allocation: Any,
    aggregate: tuple[str, ...],
    dimensions: list[str],
    now: datetime,
) -> tuple[dict[str, Any] | None, str]:
    """One allocation as a row, or None and why it was rejected."""
    if not isinstance(allocation, dict):
        return None, "not an object"
    cost = allocation.get("totalCost")
    if not isinstance(cost, int | float) or isinstance(cost, bool) or not math.isfinite(cost):
        return None, "totalCost is not a number"
    window = allocation.get("window") or {}
    start = _timestamp(window.get("start") or allocation.get("start"))
    end = _timestamp(window.get("end") or allocation.get("end"))
    if start is None or end is None:
        return None, "window has no start or end"
    parts = name.split("/")
    if any(part in SPECIAL_NAMES for part in parts) and len(parts) != len(aggregate):
        special = next(part for part in parts if part in SPECIAL_NAMES)
        values = [special] * len(aggregate)
    elif len(parts) == len(aggregate):
        # Label and annotation parts read "team=web"; an allocation without it "__unallocated__".
        values = [
            part.partition("=")[2]
            if item.startswith(("label:", "annotation:")) and "=" in part
            else part
            for item, part in zip(aggregate, parts, strict=True)
        ]
    else:
        return None, f"name has {len(parts)} parts for {len(aggregate)} aggregations"
    record: dict[str, Any] = {
        "start": start,
        "end": max(start, min(end, pd.Timestamp(now))),
        "cost": float(cost),
    }
    record.update(zip(dimensions, values, strict=True))
    return record, ""


def _timestamp(value: Any) -> pd.Timestamp | None:
    """An RFC 3339 time as a UTC timestamp; None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    parsed = pd.to_datetime(value, utc=True, errors="coerce")
    return None if pd.isna(parsed) else pd.Timestamp(parsed)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
