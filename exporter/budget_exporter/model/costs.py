"""The normalized cost frame every cost provider returns, and what one refresh delivered.

A normalized cost frame has one row per charge period start and combination of dimensions:

- ``start``, ``end``: the charge period ``[start, end)``, ``datetime64[ns, UTC]``; cost is spread
  evenly over it when a window cuts it, and ``end == start`` marks a one-time charge;
- ``cost``: amount in ``currency`` (float; credits and refunds are negative);
- ``currency``: ISO 4217 code of the row;
- ``charge_category``: one of ``model.charges.CHARGE_CATEGORIES``;
- every other column is a dimension (text) that budgets filter and break down on; FOCUS
  column names (``ServiceName``, ``SubAccountId``...) and ``tags.KEY`` are the shared vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from .bad_rows import BadRows

# Named here too for the modules that read frames; settings import it from model.charges.
from .charges import Accrual as Accrual

FIXED_COLUMNS = ("start", "end", "cost", "currency", "charge_category")


@dataclass(frozen=True)
class CostData:
    """What one refresh of a cost provider delivered."""

    frame: pd.DataFrame
    data_end: datetime | None
    bad_rows: BadRows = field(default_factory=BadRows)
    settled_through: datetime | None = None
    sources: int = 0


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


# A settled total or row count that falls below this share of the last good answer's is a
# truncated or partial source, not a correction: billing corrections move a few percent.
SHRINK_SUSPECT_SHARE = 0.5


def settled_shrink(old: CostData, new: CostData) -> str | None:
    """Why ``new`` looks truncated against ``old`` on the days ``old`` had settled, or None.

    Compares the absolute cost and the rows that start before ``old.settled_through``.
    """
    if old.settled_through is None or old.frame.empty:
        return None
    since = pd.Timestamp(old.settled_through)

    def settled(frame: pd.DataFrame) -> tuple[float, int]:
        if frame.empty:
            return 0.0, 0
        rows = frame[frame["start"] < since]
        return float(rows["cost"].abs().sum()), len(rows)

    (old_total, old_rows), (new_total, new_rows) = settled(old.frame), settled(new.frame)
    if old_total > 0 and new_total < old_total * SHRINK_SUSPECT_SHARE:
        return (
            f"settled cost before {since:%Y-%m-%d} fell from {old_total:,.2f} to {new_total:,.2f}"
        )
    if old_rows >= 10 and new_rows < old_rows * SHRINK_SUSPECT_SHARE:
        return f"settled rows before {since:%Y-%m-%d} fell from {old_rows} to {new_rows}"
    return None
