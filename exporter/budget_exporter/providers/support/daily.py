"""Daily rows from billing APIs: day boundaries in a time zone, and incremental re-reads.

Billing APIs answer per day. Days long past no longer change, so after the first full read a
provider asks only for the recent days (which still change) and keeps the older rows it has.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from ...model.bad_rows import BadRows
from ...model.costs import CostData, concat_frames
from ..base import ProviderConfig, ProviderContext

log = logging.getLogger(__name__)


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """Local midnight opening ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def floor_day(moment: datetime, zone: ZoneInfo) -> datetime:
    """Local midnight opening the day that holds ``moment``."""
    return day_start(moment.astimezone(zone).date(), zone)


def day_bounds(days: Iterable[date], zone: ZoneInfo, now: datetime) -> tuple[list, list]:
    """Start and end of each local day; the current day ends at ``now``, not at midnight.

    Ending today at ``now`` keeps today's cost from being spread over hours still to come.
    """
    starts, ends = [], []
    for day in days:
        start = day_start(day, zone)
        following = day + timedelta(days=1)
        starts.append(start)
        ends.append(max(start, min(day_start(following, zone), now)))
    return starts, ends


@dataclass(frozen=True)
class ReadPlan:
    """Which days one refresh reads: ``[since, until)``, keeping rows from ``first``."""

    first: datetime
    since: datetime
    until: datetime


class RecentDays:
    """Keeps rows of days already read; later refreshes re-read only the last few days.

    With a ``path`` the rows also survive restarts, so a restart does not pay for (or spend
    API quota on) the whole history again.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._frame: pd.DataFrame | None = None
        self._loaded = False

    def plan(
        self, now: datetime, history: timedelta, reread: timedelta, zone: ZoneInfo
    ) -> ReadPlan:
        """Days to ask for: all of ``history`` at first, then the days ``reread`` covers."""
        self._load()
        first = floor_day(now - history, zone)
        until = floor_day(now, zone) + timedelta(days=1)
        if self._frame is None:
            return ReadPlan(first, first, until)
        return ReadPlan(first, max(first, floor_day(now - reread, zone)), until)

    def merge(self, plan: ReadPlan, fresh: pd.DataFrame) -> pd.DataFrame:
        """Replace the re-read days with ``fresh`` rows; drop days older than the history."""
        if self._frame is None or self._frame.empty:
            combined = fresh
        else:
            kept = self._frame[
                (self._frame["start"] >= pd.Timestamp(plan.first))
                & (self._frame["start"] < pd.Timestamp(plan.since))
            ]
            combined = concat_frames([kept.reset_index(drop=True), fresh])
        self._frame = combined
        self._save()
        return combined

    def cost_data(
        self, plan: ReadPlan, fresh: pd.DataFrame, bad: BadRows | None = None, sources: int = 1
    ) -> CostData:
        """``merge`` the fresh rows and deliver the result, data ending with its last row."""
        frame = self.merge(plan, fresh)
        data_end = frame["end"].max().to_pydatetime() if not frame.empty else None
        return CostData(
            frame=frame,
            data_end=data_end,
            bad_rows=BadRows() if bad is None else bad,
            sources=sources,
        )

    def _load(self) -> None:
        if self._loaded or self.path is None:
            return
        self._loaded = True
        if not self.path.exists():
            return
        try:
            self._frame = pd.read_parquet(self.path)
        except Exception as error:  # pyarrow has its own error types; a bad cache is refetched
            log.warning("cannot read %s (%s); reading the whole history again", self.path, error)

    def _save(self) -> None:
        if self.path is None or self._frame is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_suffix(".tmp")
            self._frame.to_parquet(partial, index=False)
            os.replace(partial, self.path)
        except Exception as error:  # a cache that cannot be written only costs a full re-read
            log.warning("cannot write %s (%s)", self.path, error)


def cache_path(context: ProviderContext, name: str, config: ProviderConfig) -> Path | None:
    """File for a provider's rows in the cache folder, named after its settings."""
    if not context.cache_dir:
        return None
    text = f"{config.model_dump_json()}|{context.timezone}|{context.currency}"
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return Path(context.cache_dir) / f"{config.type}-{name}-{digest}.parquet"
