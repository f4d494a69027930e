"""The skeleton every cost-file provider shares: find the files, parse each once, check rows.

A provider of this kind (``focus``, ``csv``) declares ``paths`` and says how one file becomes
start, end, cost and currency columns; the checks of each row and the normalized result are
the same for all of them, so a bad row reads the same whatever the format.
"""

from __future__ import annotations

import hashlib
import json
import re
from abc import abstractmethod
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pandas as pd
from pydantic import Field

from ...model.bad_rows import BadRow, BadRows
from ...model.costs import CostData, normalize
from ...model.errors import ProviderError
from ...model.fields import Duration, TextList
from ..base import CostProvider, ProviderConfig, ProviderContext
from .atomic import atomic_write
from .engine import ROWS, STATE, ReadLimits
from .files import (
    CacheEntry,
    FileCache,
    ParsedFile,
    collect_bad_groups,
    expand_paths,
    read_cost_files,
)

# A source where more than this share of the rows is bad is not a bill with a few broken lines
# but a file read wrongly (another date format, another export): its spend would be a lie.
MAX_BAD_SHARE = 0.9
# Rows starting after now (plus the clock skew) do not move the newest data time, so they cannot
# hide staleness. Those beyond this horizon too are typos: bad rows, left out. Closer ones are
# kept: a replay of an earlier moment (``once --at``) reads a bill that goes on after it.
FUTURE_HORIZON = timedelta(days=31)


class CostFileConfig(ProviderConfig):
    """Settings of a provider that reads cost files: globs relative to the config file."""

    paths: TextList = Field(min_length=1)
    # A gzip file whose text is larger, or a CSV line longer, fails the provider (bounded memory).
    max_decompressed_bytes: int = Field(default=64 << 30, gt=0)
    max_field_bytes: int = Field(default=8 << 20, gt=0, le=1 << 30)
    # Rows starting later than now plus this are bad rows: a date typo must not hide staleness.
    clock_skew: Duration = timedelta(hours=1)

    def read_limits(self, spill_dir: str | None) -> ReadLimits:
        """The engine's caps for this provider."""
        return ReadLimits(
            max_decompressed_bytes=self.max_decompressed_bytes,
            max_field_bytes=self.max_field_bytes,
            spill_dir=spill_dir,
        )


FileConfigT = TypeVar("FileConfigT", bound=CostFileConfig)


class CostFileProvider(CostProvider[FileConfigT]):
    """Reads the files matching ``paths``; each is parsed again only when it changes."""

    def __init__(self, name: str, config: ProviderConfig, context: ProviderContext):
        super().__init__(name, config, context)
        folder = None
        if context.cache_dir is not None:
            # Other settings or other budgets' dimensions give other groups: their own folder.
            text = f"{config.model_dump_json()}|{sorted(context.dimensions or ())}"
            text += f"|{context.dimensions is None}|{context.base_dir}|{context.currency}"
            key = hashlib.sha256(text.encode()).hexdigest()[:16]
            folder = Path(context.cache_dir, "files", f"{name}.{key}")
        self._cache: FileCache[ParsedFile] = StoredFileCache(folder)

    def fetch(self, now: datetime) -> CostData:
        paths = expand_paths(self.settings.paths, self.context.base_dir, self.name)
        return read_cost_files(paths, self._cache, lambda path: self.parse_file(path, now), now)

    def limits(self) -> ReadLimits:
        """The engine's caps; it spills to the provider's cache folder when there is one."""
        return self.settings.read_limits(self.context.cache_dir)

    @abstractmethod
    def parse_file(self, path: Path, now: datetime) -> ParsedFile:
        """One file's normalized frame, its bad rows and the end of its newest data.

        Raises ProviderError naming the file when it is not of the provider's format.
        """


class StoredFileCache(FileCache[ParsedFile]):
    """A FileCache whose parsed files also live in a folder, so a restart does not read again
    the files that have not changed (the settled months of a bill): only their small groups."""

    def __init__(self, folder: Path | None):
        super().__init__()
        self._folder = folder

    def get(
        self,
        path: Path,
        parse: Callable[[Path], ParsedFile],
        stale: Callable[[ParsedFile], bool] | None = None,
    ) -> ParsedFile:
        if self._folder is not None and path not in self._entries:
            self._load(path)
        before = self._entries.get(path)
        value = super().get(path, parse, stale)
        if self._folder is not None and self._entries[path] is not before:
            self._save(path, self._entries[path].signature, value)
        return value

    def _names(self, path: Path) -> tuple[Path, Path]:
        assert self._folder is not None
        stem = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
        return self._folder / f"{stem}.json", self._folder / f"{stem}.parquet"

    def _save(self, path: Path, signature: tuple[int, int], value: ParsedFile) -> None:
        frame, bad, end, recheck = value
        record_path, frame_path = self._names(path)
        try:
            atomic_write(frame_path, frame.to_parquet(index=False))
            record = {
                "path": str(path),
                "signature": list(signature),
                "bad_rows": bad.count,
                "examples": [[row.source, row.line, row.reason] for row in bad.examples],
                "end": end.isoformat() if end is not None else None,
                "recheck": recheck.isoformat() if recheck is not None else None,
            }
            atomic_write(record_path, json.dumps(record).encode())
        except OSError:
            pass  # a read-only or full folder costs a re-read after a restart, nothing more

    def _load(self, path: Path) -> None:
        record_path, frame_path = self._names(path)
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            frame = pd.read_parquet(frame_path)
            bad = BadRows(
                int(record["bad_rows"]),
                tuple(BadRow(str(a), int(b), str(c)) for a, b, c in record["examples"]),
            )
            end = pd.Timestamp(record["end"]) if record["end"] else None
            recheck = pd.Timestamp(record["recheck"]) if record["recheck"] else None
            signature = (int(record["signature"][0]), int(record["signature"][1]))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return  # nothing stored, or damaged: the file is read again
        except Exception:  # pyarrow's own errors for a damaged frame file
            return
        self._entries[path] = CacheEntry(signature, (frame, bad, end, recheck))


def row_problems(
    path: Path,
    groups: pd.DataFrame,
    *,
    start: pd.Series,
    cost: pd.Series,
    currency: pd.Series,
    date_problem: str,
    cost_column: str,
    currency_problem: str,
    latest: pd.Timestamp,
) -> BadRows:
    """The rows without a usable time, cost or currency, each with the reason it was dropped.

    ``groups`` are the engine's groups the series are aligned with; rows that start more than
    ``FUTURE_HORIZON`` after ``latest`` (now plus the clock skew) are bad: one date typo would
    otherwise hide staleness.
    """
    dated = start.notna() & ~(start > latest + FUTURE_HORIZON)
    state = groups[STATE]
    checks = (
        (start.isna(), date_problem),
        (start > latest + FUTURE_HORIZON, f"{date_problem.split(' is ')[0]} is in the future"),
        (dated & (state == "nan"), f"{cost_column} is not a number"),
        (dated & (state == "absurd"), f"{cost_column} is infinite or beyond ±1e12"),
        (dated & cost.notna() & currency.isna(), currency_problem),
    )
    bad = BadRows()
    for mask, reason in checks:
        bad = bad + collect_bad_groups(mask.fillna(False), reason, path, groups)
    return bad


def file_result(
    frame: pd.DataFrame,
    bad: BadRows,
    groups: pd.DataFrame,
    path: Path,
    provider: str,
    latest: pd.Timestamp,
    now: pd.Timestamp,
    hint: str = "",
) -> ParsedFile:
    """The normalized rows of ``frame`` with start, end, cost and currency, and the newest end.

    Raises ProviderError when most rows of the file are bad: the file is read wrongly.
    """
    total = int(groups[ROWS].sum())
    if total and (bad.count == total or (total >= 10 and bad.count > total * MAX_BAD_SHARE)):
        first = bad.examples[0] if bad.examples else None
        raise ProviderError(
            f"provider {provider}: {bad.count} of {total} rows of {path} are bad, first "
            f"{first}{hint}; nothing of this file is used and the last good data stays served"
        )
    valid = frame["start"].notna() & frame["end"].notna() & frame["cost"].notna()
    valid &= frame["currency"].notna() & ~(frame["start"] > latest + FUTURE_HORIZON)
    future = frame["start"] > latest
    current = valid & ~future
    newest = frame["end"][current].max() if current.any() else None
    # A row dated ahead is read again once the clock reaches it (the file may not change).
    recheck = frame["start"][future].min() - (latest - now) if future.any() else None
    return normalize(frame[valid].reset_index(drop=True)), bad, newest, recheck


def with_unused(frame: pd.DataFrame, dimensions: list[str]) -> pd.DataFrame:
    """``frame`` with the source's dimensions that no budget uses as empty columns.

    They cost one value each, not rows, and keep every dimension of the source known to the
    check that names a filter key matching no column.
    """
    for name in dimensions:
        if name not in frame.columns:
            frame[name] = ""
    return frame


# Dates of real exports that ISO 8601 parsing does not read, and the setting that reads them.
DATE_FORMATS = (
    (re.compile(r"^\d{1,2}/\d{1,2}/\d{4}"), "'%m/%d/%Y' (or '%d/%m/%Y')"),
    (re.compile(r"^\d{1,2}\.\d{1,2}\.\d{4}"), "'%d.%m.%Y'"),
    (re.compile(r"^\d{8}$"), "'%Y%m%d'"),
)


def date_format_hint(value: object, setting: str) -> str:
    """A pointer to the setting that reads ``value``, when it is a common non-ISO date."""
    text = str(value).strip()
    for pattern, fmt in DATE_FORMATS:
        if pattern.match(text):
            return f" (dates like {text!r} need {setting}: {fmt})"
    return ""
