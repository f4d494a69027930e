"""Shared helpers for providers that read local files: globbing, change detection, parsing."""

from __future__ import annotations

import glob
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

import pandas as pd

from ...model.bad_rows import BadRow, BadRows
from ...model.costs import CostData, concat_frames
from ...model.errors import ProviderError
from .engine import LINE, ROWS

T = TypeVar("T")


def expand_paths(patterns: tuple[str, ...], base_dir: str, provider: str) -> list[Path]:
    """Resolve glob patterns relative to the config file's folder, sorted and de-duplicated."""
    found: dict[str, Path] = {}
    for pattern in patterns:
        full = pattern if os.path.isabs(pattern) else os.path.join(base_dir, pattern)
        for match in glob.glob(os.path.expanduser(full), recursive=True):
            path = Path(match)
            if path.is_file():
                found[str(path.resolve())] = path
    if not found:
        raise ProviderError(
            f"provider {provider}: no file matches {', '.join(patterns)} (relative to {base_dir})"
        )
    return [found[key] for key in sorted(found)]


# Modification time (ns), size, and a hash of the first and last MiB: a rewrite that keeps
# the size and the time (a copy that preserves times, a coarse clock) still differs there,
# Parquet's footer above all.
Signature = tuple[int, int, str]
_EDGE = 1 << 20


def file_signature(path: Path) -> Signature:
    """What tells a changed file from the one read before, read in two MiB at most."""
    stat = path.stat()
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as stream:
        digest.update(stream.read(_EDGE))
        if stat.st_size > _EDGE:
            stream.seek(max(stat.st_size - _EDGE, _EDGE))
            digest.update(stream.read(_EDGE))
    return stat.st_mtime_ns, stat.st_size, digest.hexdigest()


@dataclass(frozen=True)
class CacheEntry(Generic[T]):
    signature: Signature
    value: T
    # When the whole file was last read (a changed file may be read again only in part).
    whole_read: datetime | None = None


# Reads a changed file given what was read of it before: the new value, and whether it read
# the whole file.
Update = Callable[[Path, CacheEntry[T]], tuple[T, bool]]


class FileCache(Generic[T]):
    """Parses each file once and again only when its signature (size, modification time, the
    bytes at both ends) changes.

    Unsettled billing files are rewritten in place by the billing system; the signature check
    re-reads exactly those while leaving settled files alone.
    """

    def __init__(self) -> None:
        self._entries: dict[Path, CacheEntry[T]] = {}

    def get(
        self,
        path: Path,
        parse: Callable[[Path], T],
        stale: Callable[[T], bool] | None = None,
        update: Update[T] | None = None,
        now: datetime | None = None,
    ) -> T:
        """Return the parsed file, parsing it if it is new or changed (or ``stale`` says so).

        ``update`` reads a changed file from what was read of it before, when given.
        """
        signature = file_signature(path)
        entry = self._entries.get(path)
        if entry is None or (stale and stale(entry.value)):
            entry = CacheEntry(signature, parse(path), now)
            self._entries[path] = entry
        elif entry.signature != signature:
            if update is None:
                entry = CacheEntry(signature, parse(path), now)
            else:
                value, whole = update(path, entry)
                entry = CacheEntry(signature, value, now if whole else entry.whole_read)
            self._entries[path] = entry
        return entry.value

    def forget_except(self, keep: list[Path]) -> None:
        """Drop cached files that no longer match the configured patterns."""
        wanted = set(keep)
        for path in list(self._entries):
            if path not in wanted:
                del self._entries[path]


# A file's normalized frame, its bad rows, the end of its newest data, and when to read it
# again although it has not changed (a row dated ahead comes within the clock skew).
ParsedFile = tuple[pd.DataFrame, BadRows, "pd.Timestamp | None", "pd.Timestamp | None"]


def read_cost_files(
    paths: list[Path],
    cache: FileCache[ParsedFile],
    parse: Callable[[Path], ParsedFile],
    now: datetime,
    update: Update[ParsedFile] | None = None,
) -> CostData:
    """Parse each file (or take it from ``cache``) and stack them into one provider answer."""
    moment = pd.Timestamp(now)

    def stale(parsed: ParsedFile) -> bool:
        return parsed[3] is not None and moment >= parsed[3]

    frames, bad, ends = [], BadRows(), []
    for path in paths:
        frame, file_bad, end, _ = cache.get(path, parse, stale, update, now)
        frames.append(frame)
        bad = bad + file_bad
        if end is not None:
            ends.append(end)
    cache.forget_except(paths)
    data_end = max(ends).to_pydatetime() if ends else None
    return CostData(
        frame=concat_frames(frames), data_end=data_end, bad_rows=bad, sources=len(paths)
    )


def read_table(path: Path, provider: str) -> pd.DataFrame:
    """Read a CSV (plain or gzip) or Parquet file with every column as text.

    Raises ProviderError naming the file when it cannot be read at all.
    """
    name = path.name.lower()
    try:
        if name.endswith(".parquet") or name.endswith(".pq"):
            frame = pd.read_parquet(path)
            return _decode_binary(frame.astype("object").where(frame.notna(), None))
        return pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=[],
            encoding="utf-8-sig",
            compression="infer",
        )
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ProviderError(f"provider {provider}: cannot read {path}: {reason}") from None
    except Exception as error:  # pyarrow raises its own error types for corrupt files
        raise ProviderError(
            f"provider {provider}: cannot read {path}: {type(error).__name__}: {error}"
        ) from None


def _decode_binary(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet BINARY columns as text: UTF-8, with bytes that are not UTF-8 replaced (U+FFFD)."""
    for column in frame.columns:
        present = frame[column].dropna()
        if len(present) and isinstance(present.iloc[0], bytes | bytearray):
            frame[column] = frame[column].map(
                lambda cell: (
                    bytes(cell).decode("utf-8", "replace")
                    if isinstance(cell, bytes | bytearray)
                    else cell
                )
            )
    return frame


def first_data_line(path: Path) -> int:
    """Line number of the first data row: 2 for CSV (after the header), 1 for Parquet rows."""
    return 1 if path.name.lower().endswith((".parquet", ".pq")) else 2


# No single charge line comes near this; beyond it (or infinite) a number is a broken export.
MAX_ROW_COST = 1e12


def absurd_costs(cost: pd.Series) -> pd.Series:
    """Mask of costs that are infinite or beyond ±MAX_ROW_COST."""
    return cost.notna() & ~(cost.abs() <= MAX_ROW_COST)


def null_mask(series: pd.Series) -> pd.Series:
    """Cells that hold no value: missing, empty, or FOCUS's literal ``NULL``."""
    text = series.astype("object")
    return text.isna() | text.isin(["", "NULL", "null"])


def collect_bad_rows(mask: pd.Series, reason: str, path: Path, first_line: int) -> BadRows:
    """Turn a boolean mask of rejected rows into a BadRows record."""
    positions = mask.to_numpy().nonzero()[0]
    examples = tuple(
        BadRow(str(path), int(position) + first_line, reason) for position in positions[:20]
    )
    return BadRows(len(positions), examples)


def parse_tags(cells: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """Expand JSON tag objects into ``tags.KEY`` columns; return them and a mask of bad cells.

    Each distinct text is parsed once; exports repeat the same few tag sets on most rows.
    """
    parsed: dict[str, dict[str, str] | None] = {}
    for text in cells.dropna().unique():
        if text in ("", "NULL", "null"):
            parsed[text] = {}
            continue
        try:
            value = json.loads(text)
        except (TypeError, ValueError):
            parsed[text] = None
            continue
        if not isinstance(value, dict):
            parsed[text] = None
            continue
        parsed[text] = {str(k): "" if v is None else str(v) for k, v in value.items()}
    keys = sorted({key for tags in parsed.values() if tags for key in tags})
    bad = cells.map(lambda text: text is not None and parsed.get(text, {}) is None)
    columns = {
        f"tags.{key}": cells.map(
            lambda text, key=key: ((parsed.get(text) or {}) if text is not None else {}).get(
                key, ""
            )
        )
        for key in keys
    }
    return pd.DataFrame(columns, index=cells.index), bad.astype(bool)


def collect_bad_groups(mask: pd.Series, reason: str, path: Path, groups: pd.DataFrame) -> BadRows:
    """BadRows of the engine's groups in ``mask``: every line counted, each group named by its
    first line (one example per distinct bad value, in the order of the file)."""
    chosen = groups[mask.to_numpy()]
    lines = sorted(int(line) for line in chosen[LINE].head(20))
    examples = tuple(BadRow(str(path), line, reason) for line in lines)
    return BadRows(int(chosen[ROWS].sum()), examples)


def parse_times(cells: pd.Series) -> pd.Series:
    """UTC instants from ISO 8601 text or typed timestamps; anything else is NaT.

    Each distinct text is parsed once, and one out of range (``9999-01-01``) is NaT on its own
    row rather than an error for the whole file.
    """
    if pd.api.types.is_datetime64_any_dtype(cells):
        parsed = pd.to_datetime(cells, utc=True)
        return parsed.astype("datetime64[ns, UTC]")
    text = cells.astype("object").where(~null_mask(cells))
    distinct = pd.Series(text.dropna().unique(), dtype="object")
    try:
        values = pd.to_datetime(distinct, utc=True, errors="coerce", format="ISO8601")
    except (ValueError, OverflowError):
        values = pd.Series([_one_time(value) for value in distinct], dtype="datetime64[ns, UTC]")
    if values.dtype != "datetime64[ns, UTC]":  # parsed at a coarser unit, which holds year 9999
        late = values > _FAR_FUTURE
        early = values < pd.Timestamp("1678-01-01", tz="UTC")
        values = values.where(~late & ~early).astype("datetime64[ns, UTC]")
        values = values.where(~late.to_numpy(), _FAR_FUTURE)
    lookup = dict(zip(distinct, values, strict=True))
    return pd.Series(
        pd.DatetimeIndex([lookup.get(value, pd.NaT) for value in text], tz="UTC"),
        index=cells.index,
    ).astype("datetime64[ns, UTC]")


# Instants the ns timestamps hold; a date beyond them is a typo, read as the far future.
_FAR_FUTURE = pd.Timestamp("2262-04-11", tz="UTC")


def _one_time(value: object) -> Any:
    try:
        return pd.Timestamp(pd.to_datetime(str(value), utc=True, format="ISO8601"))
    except (ValueError, OverflowError) as error:
        if "bounds" in str(error).lower() and not str(value).lstrip().startswith(("0", "1")):
            return _FAR_FUTURE  # so it is reported as in the future, not as no date
        return pd.NaT
