"""Shared helpers for providers that read local files: globbing, change detection, parsing."""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import pandas as pd

from ...model.bad_rows import BadRow, BadRows
from ...model.costs import CostData, concat_frames
from ...model.errors import ProviderError

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


@dataclass(frozen=True)
class _Entry(Generic[T]):
    signature: tuple[int, int]
    value: T


class FileCache(Generic[T]):
    """Parses each file once and again only when its size or modification time changes.

    Unsettled billing files are rewritten in place by the billing system; the signature check
    re-reads exactly those while leaving settled files alone.
    """

    def __init__(self) -> None:
        self._entries: dict[Path, _Entry[T]] = {}

    def get(self, path: Path, parse: Callable[[Path], T]) -> T:
        """Return the parsed file, parsing it if it is new or changed."""
        stat = path.stat()
        signature = (stat.st_mtime_ns, stat.st_size)
        entry = self._entries.get(path)
        if entry is None or entry.signature != signature:
            entry = _Entry(signature, parse(path))
            self._entries[path] = entry
        return entry.value

    def forget_except(self, keep: list[Path]) -> None:
        """Drop cached files that no longer match the configured patterns."""
        wanted = set(keep)
        for path in list(self._entries):
            if path not in wanted:
                del self._entries[path]


ParsedFile = tuple[pd.DataFrame, BadRows, "pd.Timestamp | None"]


def read_cost_files(
    paths: list[Path], cache: FileCache[ParsedFile], parse: Callable[[Path], ParsedFile]
) -> CostData:
    """Parse each file (or take it from ``cache``) and stack them into one provider answer.

    ``parse`` returns a file's normalized frame, its bad rows and the end of its newest data.
    """
    frames, bad, ends = [], BadRows(), []
    for path in paths:
        frame, file_bad, end = cache.get(path, parse)
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
