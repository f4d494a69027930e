"""The provider interface: every cost source returns the same normalized frame.

A normalized cost frame has one row per charge period start and combination of dimensions:

- ``start``, ``end``: the charge period ``[start, end)``, ``datetime64[ns, UTC]``; cost is spread
  evenly over it when a window cuts it, and ``end == start`` marks a one-time charge;
- ``cost``: amount in ``currency`` (float; credits and refunds are negative);
- ``currency``: ISO 4217 code of the row;
- ``charge_category``: one of ``CHARGE_CATEGORIES``;
- every other column is a dimension (text) that budgets filter and break down on; FOCUS
  column names (``ServiceName``, ``SubAccountId``...) and ``tags.KEY`` are the shared vocabulary.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar, Generic, Literal, TypeVar

import pandas as pd
from pydantic import SecretStr

from ..configtypes import Duration, StrictModel, read_secret

FIXED_COLUMNS = ("start", "end", "cost", "currency", "charge_category")
CHARGE_CATEGORIES = ("usage", "purchase", "tax", "credit", "refund")
MAX_BAD_ROW_EXAMPLES = 20


@dataclass(frozen=True)
class BadRow:
    """A row that could not be read, with where it is and why."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class BadRows:
    """How many rows were rejected, with the first few as examples."""

    count: int = 0
    examples: tuple[BadRow, ...] = ()

    def __add__(self, other: BadRows) -> BadRows:
        room = MAX_BAD_ROW_EXAMPLES - len(self.examples)
        return BadRows(self.count + other.count, self.examples + other.examples[:room])


@dataclass(frozen=True)
class CostData:
    """What one refresh of a cost provider delivered."""

    frame: pd.DataFrame
    data_end: datetime | None
    bad_rows: BadRows = field(default_factory=BadRows)
    settled_through: datetime | None = None
    sources: int = 0


@dataclass(frozen=True)
class ProviderMetric:
    """One provider-specific sample, rendered beside the generic provider metrics.

    ``name`` is the full metric name (counters end in ``_total``); the exporter adds the
    ``provider`` and ``type`` labels, so ``labels`` holds only the provider's own ones.
    """

    name: str
    help: str
    kind: Literal["counter", "gauge"]
    value: float
    labels: tuple[tuple[str, str], ...] = ()


class ProviderConfig(StrictModel):
    """Settings every provider accepts."""

    type: str
    # Billing data for the most recent days is provisional: the newest data minus this lag is
    # reported as settled, and files or APIs are re-read until then.
    settlement_lag: Duration = timedelta(days=3)
    # Data older than this is stale: exported so the data-age alert needs no per-provider rule.
    max_data_age: Duration = timedelta(days=2)


DataT = TypeVar("DataT")


class Provider(ABC, Generic[DataT]):
    """A data source. Implementations do I/O only in ``fetch``."""

    type_name: ClassVar[str]
    config_model: ClassVar[type[ProviderConfig]]

    def __init__(self, name: str, config: ProviderConfig, context: ProviderContext):
        self.name = name
        self.config = config
        self.context = context

    @abstractmethod
    def fetch(self, now: datetime) -> DataT:
        """Read the source and return its data up to ``now``.

        Raises ProviderError (or OSError/ValueError) when the source as a whole is unusable.
        """

    def metrics(self) -> tuple[ProviderMetric, ...]:
        """Provider-specific samples (API requests made, their cost...); none by default."""
        return ()

    def secret(self, value: SecretStr | None, file: Path | None, file_key: str) -> str | None:
        """The secret given inline or in the file set as ``file_key`` (None when neither is)."""
        return read_secret(value, file, self.context.base_dir, f"provider {self.name}: {file_key}")


class CostProvider(Provider[CostData]):
    """A source of cost data: ``fetch`` returns the normalized cost frame."""


@dataclass(frozen=True)
class ProviderContext:
    """Global settings a provider may need."""

    timezone: str
    currency: str
    base_dir: str
    # Folder where a provider may keep its own files across restarts (paid API results,
    # request counts); None keeps them in memory only.
    cache_dir: str | None = None


def empty_cost_frame(dimensions: tuple[str, ...] = ()) -> pd.DataFrame:
    """A normalized frame with no rows."""
    columns: dict[str, pd.Series] = {
        "start": pd.Series([], dtype="datetime64[ns, UTC]"),
        "end": pd.Series([], dtype="datetime64[ns, UTC]"),
        "cost": pd.Series([], dtype="float64"),
        "currency": pd.Series([], dtype="object"),
        "charge_category": pd.Series([], dtype="object"),
    }
    for dimension in dimensions:
        columns[dimension] = pd.Series([], dtype="object")
    return pd.DataFrame(columns)


def normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """Aggregate rows to one per charge period and dimension combination, with compact dtypes.

    Line items of the same charge period and dimensions collapse into one row; starts and ends
    keep their own resolution so periods cut at local midnight in any time zone.
    """
    if frame.empty:
        return empty_cost_frame(tuple(c for c in frame.columns if c not in FIXED_COLUMNS))
    frame = frame.copy()
    frame["start"] = pd.to_datetime(frame["start"], utc=True).astype("datetime64[ns, UTC]")
    frame["end"] = pd.to_datetime(frame["end"], utc=True).astype("datetime64[ns, UTC]")
    keys = ["start", "end", "currency", "charge_category"] + [
        c for c in frame.columns if c not in FIXED_COLUMNS
    ]
    for key in keys[2:]:
        frame[key] = frame[key].astype("object").where(frame[key].notna(), "")
    grouped = frame.groupby(keys, sort=True, observed=True, dropna=False)["cost"].sum()
    result = grouped.reset_index()
    for key in keys[2:]:
        result[key] = result[key].astype("category")
    result["cost"] = result["cost"].astype("float64")
    return result[["start", "end", "cost", *keys[2:]]]


def concat_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack normalized frames whose dimension columns may differ; absent dimensions are ''."""
    if not frames:
        return empty_cost_frame()
    combined = pd.concat(frames, ignore_index=True, sort=False)
    for column in combined.columns:
        if column in ("start", "end", "cost"):
            continue
        values = combined[column].astype("object")
        combined[column] = values.where(values.notna(), "").astype("category")
    return combined
