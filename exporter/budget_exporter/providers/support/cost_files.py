"""The skeleton every cost-file provider shares: find the files, parse each once, check rows.

A provider of this kind (``focus``, ``csv``) declares ``paths`` and says how one file becomes
start, end, cost and currency columns; the checks of each row and the normalized result are
the same for all of them, so a bad row reads the same whatever the format.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import zlib
from abc import abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, TypeVar

import pandas as pd
from pandas.api.types import union_categoricals

from ...model.bad_rows import BadRow, BadRows
from ...model.costs import CostData, concat_frames, normalize
from ...model.errors import ProviderError
from ...model.moments import moment_of, moment_text
from ..base import CostProvider, ProviderConfig, ProviderContext
from .atomic import atomic_write
from .cost_files_config import CostFileConfig
from .engine import ROWS, STATE, ReadLimits, complete_length, is_parquet
from .files import (
    CacheEntry,
    FileCache,
    ParsedFile,
    Update,
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


log = logging.getLogger(__name__)

T = TypeVar("T")
FileConfigT = TypeVar("FileConfigT", bound=CostFileConfig)


# Of the groups kept in the state folder: another version's are read again, never trusted.
STORED_FORMAT = 2
# A changed file is read again only from the days that can still change, for at most this long
# after its last whole read: a restatement of settled days is seen within a day.
WHOLE_READ_EVERY = timedelta(days=1)
# Files are hashed and copied in pieces of this size.
_CHUNK = 1 << 20
# The engine's condition is looser than the split of settled and unsettled rows by this much,
# so a time it reads otherwise than the provider (a local time without an offset) cannot drop
# a row; the split itself is on the provider's own times.
TAIL_MARGIN = timedelta(days=2)


def kept_folder(name: str, config: ProviderConfig, context: ProviderContext) -> Path | None:
    """Where a file provider keeps its files' groups (None without a state folder)."""
    if context.cache_dir is None:
        return None
    # Other settings or other budgets' dimensions give other groups: their own folder.
    text = f"{config.model_dump_json()}|{sorted(context.dimensions or ())}"
    text += f"|{context.dimensions is None}|{context.base_dir}|{context.currency}"
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    return Path(context.cache_dir, "files", f"{name}.{key}")


class CostFileProvider(CostProvider[FileConfigT]):
    """Reads the files matching ``paths``; each is parsed again only when it changes, and a
    changed file only from its unsettled days where the format can say which lines those are."""

    # Whether ``parse_file`` honours ``since`` (reads only the lines that may end after it).
    reads_tail: ClassVar[bool] = False

    def __init__(self, name: str, config: ProviderConfig, context: ProviderContext):
        super().__init__(name, config, context)
        self._cache = StoredFileCache(kept_folder(name, config, context))

    def fetch(self, now: datetime) -> CostData:
        paths = expand_paths(self.settings.paths, self.context.base_dir, self.name)
        return read_cost_files(
            paths,
            self._cache,
            lambda path: self.parse_file(path, now),
            now,
            update=lambda path, entry: self._update(path, entry, now),
        )

    def limits(self) -> ReadLimits:
        """The engine's caps; it spills to the provider's cache folder when there is one."""
        return ReadLimits(
            max_decompressed_bytes=self.settings.max_decompressed_bytes,
            max_field_bytes=self.settings.max_field_bytes,
            spill_dir=self.context.cache_dir,
        )

    @abstractmethod
    def parse_file(
        self, path: Path, now: datetime, since: pd.Timestamp | None = None
    ) -> ParsedFile:
        """One file's normalized frame, its bad rows and the end of its newest data.

        With ``since`` (where ``reads_tail``), the lines whose charge period surely ended by
        then may be left out. Raises ProviderError naming the file when it is not of the
        provider's format.
        """

    def _update(
        self, path: Path, entry: CacheEntry[ParsedFile], now: datetime
    ) -> tuple[ParsedFile, bool]:
        """A changed file: its settled days as read before, the rest read again (or all of it)."""
        since = self._settled_until(entry, now)
        if since is None:
            return self.parse_file(path, now), True
        tail = self.parse_file(path, now, since=since - TAIL_MARGIN)
        return settled_and_tail(entry.value, tail, since), False

    def _settled_until(self, entry: CacheEntry[ParsedFile], now: datetime) -> pd.Timestamp | None:
        """The UTC midnight up to which the file's days as read before are final, if any."""
        frame, bad, end, _ = entry.value
        whole = entry.whole_read
        if not self.reads_tail or whole is None or end is None or frame.empty:
            return None
        if not timedelta(0) <= now - whole < WHOLE_READ_EVERY:
            return None
        # Bad rows carry no date: which of them are settled is unknown, so read it all.
        if bad.count:
            return None
        newest = min(pd.Timestamp(end), pd.Timestamp(now))
        since = (newest - self.settings.settlement_lag).floor("D")
        return since if since > frame["start"].min() else None


def settled_and_tail(before: ParsedFile, tail: ParsedFile, since: pd.Timestamp) -> ParsedFile:
    """The rows of ``before`` that ended by ``since``, and those of ``tail`` that end after it.

    ``tail`` holds at least every line that may end after ``since``; its bad rows are the
    file's (``before`` had none).
    """
    frame, _, _, _ = before
    fresh, bad, newest, recheck = tail
    kept = frame[frame["end"] <= since]
    fresh = fresh[fresh["end"] > since]
    ends = [end for end in (kept["end"].max() if len(kept) else None, newest) if end is not None]
    merged = normalize(concat_frames([kept, fresh]))
    return merged, bad, max(ends) if ends else None, recheck


class KeptFileCache(FileCache[T]):
    """A FileCache whose parsed files also live in a folder, so a restart does not read again
    the files that have not changed (the settled months of a bill): only their small groups.

    Each file's groups are a Parquet file beside a record of the file's signature, the hash of
    the groups, the bad rows and the format; a record that is damaged, of another format or
    that does not match its groups is ignored (logged) and the file read again. Subclasses say
    what of a parsed file is its groups, its bad rows and its other fields (text or None).
    """

    def __init__(self, folder: Path | None):
        super().__init__()
        self._folder = folder
        # What a provider noted of the read that made a value, for its next read of the file;
        # tied to that value, so a note never outlives the groups it describes.
        self._notes: dict[Path, tuple[T, str]] = {}

    def note(self, path: Path, value: T, text: str | None) -> None:
        """Keep ``text`` with ``value`` as read from ``path`` (None forgets any note)."""
        if text is None:
            self._notes.pop(path, None)
        else:
            self._notes[path] = (value, text)

    def noted(self, path: Path, value: T) -> str | None:
        """The note kept with ``value``, when ``value`` is what it was kept with."""
        found = self._notes.get(path)
        return found[1] if found is not None and found[0] is value else None

    def forget_except(self, keep: list[Path]) -> None:
        super().forget_except(keep)
        for path in set(self._notes) - set(keep):
            del self._notes[path]

    @abstractmethod
    def encode(self, value: T) -> tuple[pd.DataFrame, BadRows, dict[str, str | None]]:
        """The groups, the bad rows and the other fields of a parsed file."""

    @abstractmethod
    def decode(self, frame: pd.DataFrame, bad: BadRows, fields: dict[str, str | None]) -> T:
        """The parsed file ``encode`` took apart; raises ValueError when a field is wrong."""

    def get(
        self,
        path: Path,
        parse: Callable[[Path], T],
        stale: Callable[[T], bool] | None = None,
        update: Update[T] | None = None,
        now: datetime | None = None,
    ) -> T:
        if self._folder is not None and path not in self._entries:
            self._load(path)
        before = self._entries.get(path)
        value = super().get(path, parse, stale, update, now)
        if self._folder is not None and self._entries[path] is not before:
            self._save(path, self._entries[path])
        return value

    def _names(self, path: Path) -> tuple[Path, Path]:
        assert self._folder is not None
        stem = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
        return self._folder / f"{stem}.json", self._folder / f"{stem}.parquet"

    def _save(self, path: Path, entry: CacheEntry[T]) -> None:
        frame, bad, fields = self.encode(entry.value)
        record_path, frame_path = self._names(path)
        try:
            payload = frame.to_parquet(index=False)
            atomic_write(frame_path, payload)
            record = {
                "format": STORED_FORMAT,
                "path": str(path),
                "signature": list(entry.signature),
                "groups_sha256": hashlib.sha256(payload).hexdigest(),
                "whole_read": moment_text(entry.whole_read),
                "bad_rows": bad.count,
                "examples": [[row.source, row.line, row.reason] for row in bad.examples],
                "fields": fields,
                "note": self.noted(path, entry.value),
            }
            atomic_write(record_path, json.dumps(record).encode())
        except OSError as error:  # a read-only or full folder costs a re-read after a restart
            log.warning("cannot keep the groups of %s: %s", path, error)

    def _load(self, path: Path) -> None:
        record_path, frame_path = self._names(path)
        try:
            record = json.loads(record_path.read_bytes())
        except FileNotFoundError:
            return  # never read before
        except (OSError, ValueError) as error:
            log.warning("ignoring the kept groups of %s (%s): the file is read again", path, error)
            return
        try:
            if not isinstance(record, dict) or record.get("format") != STORED_FORMAT:
                found = record.get("format") if isinstance(record, dict) else None
                raise ValueError(f"format {found!r}, not {STORED_FORMAT}")
            if record["path"] != str(path):
                raise ValueError(f"they are those of {record['path']}")
            payload = frame_path.read_bytes()
            if hashlib.sha256(payload).hexdigest() != record["groups_sha256"]:
                raise ValueError("the groups do not match their record")
            frame = pd.read_parquet(io.BytesIO(payload))
            bad = BadRows(
                int(record["bad_rows"]),
                tuple(BadRow(str(a), int(b), str(c)) for a, b, c in record["examples"]),
            )
            mtime, size, digest = record["signature"]
            signature = (int(mtime), int(size), str(digest))
            fields = {str(k): None if v is None else str(v) for k, v in record["fields"].items()}
            value = self.decode(frame, bad, fields)
            whole = moment_of(record["whole_read"])
            note = record.get("note")
            if note is not None and not isinstance(note, str):
                raise ValueError(f"note {note!r} is not text")
        except Exception as error:  # pyarrow's own errors for a damaged frame file, too
            log.warning(
                "ignoring the kept groups of %s (%s: %s): the file is read again",
                path,
                type(error).__name__,
                error,
            )
            return
        self._entries[path] = CacheEntry(
            signature, value, whole.to_pydatetime() if whole is not None else None
        )
        self.note(path, value, note)


class StoredFileCache(KeptFileCache[ParsedFile]):
    """The kept groups of the ``focus`` and ``csv`` providers."""

    def encode(self, value: ParsedFile) -> tuple[pd.DataFrame, BadRows, dict[str, str | None]]:
        frame, bad, end, recheck = value
        return frame, bad, {"end": moment_text(end), "recheck": moment_text(recheck)}

    def decode(
        self, frame: pd.DataFrame, bad: BadRows, fields: dict[str, str | None]
    ) -> ParsedFile:
        return frame, bad, moment_of(fields["end"]), moment_of(fields["recheck"])


@dataclass(frozen=True)
class ReadText:
    """Of a CSV file's text (inflated, for gzip) as read: the bytes of its complete lines, its
    data lines among them, and the SHA-256 of those bytes."""

    length: int
    rows: int
    sha256: str


def file_identity(path: Path) -> tuple[int, ...]:
    """What tells whether a file was written between two moments (before and after a read)."""
    # The inode change time moves with any write, whatever a copy does to the modification time.
    stat = path.stat()
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


def csv_text(path: Path) -> str | None:
    """How the text of a CSV file is stored: "plain", "gzip", or None for Parquet."""
    if is_parquet(path):
        return None
    with path.open("rb") as stream:
        return "gzip" if stream.read(2) == b"\x1f\x8b" else "plain"


def _text(path: Path, stored: str) -> Iterator[bytes]:
    """The text of a CSV file in pieces, inflated from its start when it is gzip."""
    opener = gzip.open if stored == "gzip" else open
    with opener(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            yield chunk


def read_text(path: Path, stored: str, rows: int, since: tuple[int, ...]) -> ReadText | None:
    """What a whole read of the CSV ``path`` read: the bytes of its complete lines (a plain
    file's line still being written is left out, as the engine leaves it) holding ``rows``
    data lines. None when the file changed since ``since`` (``file_identity`` before the
    read), so the bytes hashed here might not be those read, or when a gzip file's text does
    not end with a line's end (lines appended would continue its last line)."""
    digest = hashlib.sha256()
    length = 0
    limit = complete_length(path) if stored == "plain" else None
    last = b""
    for chunk in _text(path, stored):
        if limit is not None:
            chunk = chunk[: limit - length]
        if not chunk:
            break
        digest.update(chunk)
        length += len(chunk)
        last = chunk[-1:]
    if file_identity(path) != since or (stored == "gzip" and length and last != b"\n"):
        return None
    return ReadText(length, rows, digest.hexdigest())


@contextmanager
def appended_text(
    path: Path, stored: str, before: ReadText, limits: ReadLimits
) -> Iterator[tuple[Path, ReadText] | None]:
    """The lines appended to ``path`` since ``before`` was read, as a CSV file of their own
    (the header, then those lines), and what the whole file now reads as.

    None when the file is not what was read plus complete lines after it: its first
    ``before.length`` bytes of text differ (a rewritten day, a reordered file), it is
    shorter, its header did not end before them, or it cannot be read (the whole read says
    why, as it does for text beyond ``limits.max_decompressed_bytes``). A plain file's line
    still being written is left for the next read.
    """
    handle, name = tempfile.mkstemp(dir=limits.spill_dir, prefix=f".{path.name}.tail.")
    copy = Path(name)
    try:
        with os.fdopen(handle, "wb") as target:
            try:
                found = _copy_appended(path, stored, before, target, limits)
            except (OSError, EOFError, zlib.error) as error:
                log.info("%s is read whole: %s", path, error)
                found = None
        yield (copy, found) if found is not None else None
    finally:
        copy.unlink(missing_ok=True)


def _copy_appended(
    path: Path, stored: str, before: ReadText, target: BinaryIO, limits: ReadLimits
) -> ReadText | None:
    max_line = limits.max_field_bytes
    digest = hashlib.sha256()
    position, head, pending, total = 0, b"", b"", 0
    started = False
    for chunk in _text(path, stored):
        total += len(chunk)
        if total > limits.max_decompressed_bytes:
            return None
        if position < before.length:
            take = chunk[: before.length - position]
            digest.update(take)
            position += len(take)
            head += take[: max(max_line - len(head), 0)]
            chunk = chunk[len(take) :]
            if position < before.length:
                continue
            end = head.find(b"\n")
            if end < 0 or digest.hexdigest() != before.sha256:
                return None
            target.write(head[: end + 1])
            started = True
        cut = chunk.rfind(b"\n")
        if cut < 0:
            pending += chunk
            if len(pending) > max_line:
                return None  # a line longer than the engine reads: the whole read says so
            continue
        complete = pending + chunk[: cut + 1]
        pending = chunk[cut + 1 :]
        digest.update(complete)
        target.write(complete)
        position += len(complete)
    # A gzip file is read to its end: a last line without its end is no line being written.
    if not started or (stored == "gzip" and pending):
        return None
    # Its data lines are the engine's to count (a quoted cell may hold a newline).
    return ReadText(position, before.rows, digest.hexdigest())


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
    before: tuple[ParsedFile, int] | None = None,
) -> ParsedFile:
    """The normalized rows of ``frame`` with start, end, cost and currency, and the newest end.

    With ``before`` (what the file's first lines gave, and how many data lines those were),
    ``frame`` holds the lines after them and the result is both together.
    Raises ProviderError when most rows of the file are bad: the file is read wrongly.
    """
    if before is None:
        _refuse_mostly_bad(int(groups[ROWS].sum()), bad, path, provider, hint)
        return _parsed(frame, bad, latest, now)
    (kept, kept_bad, kept_newest, kept_recheck), rows = before
    _refuse_mostly_bad(rows + int(groups[ROWS].sum()), kept_bad + bad, path, provider, hint)
    fresh, _, fresh_newest, fresh_recheck = _parsed(frame, bad, latest, now)
    newest = [end for end in (kept_newest, fresh_newest) if end is not None]
    recheck = [moment for moment in (kept_recheck, fresh_recheck) if moment is not None]
    return (
        _merged(kept, fresh),
        kept_bad + bad,
        max(newest) if newest else None,
        min(recheck) if recheck else None,
    )


def _merged(kept: pd.DataFrame, fresh: pd.DataFrame) -> pd.DataFrame:
    """Two normalized frames as one normalized frame.

    Lines appended for later charge periods than any kept (the usual export's new day) make
    groups of their own after those kept: the two are stacked, categories united without
    going through text, which costs a fraction of grouping every row again.
    """
    same = list(kept.columns) == list(fresh.columns)
    if not same or kept.empty or fresh.empty or fresh["start"].min() <= kept["start"].max():
        return normalize(concat_frames([kept, fresh]))
    columns: dict[str, Any] = {}
    for name in kept.columns:
        left, right = kept[name], fresh[name]
        if isinstance(left.dtype, pd.CategoricalDtype):
            columns[name] = union_categoricals([left, right.astype("category")])
        else:
            columns[name] = pd.concat([left, right], ignore_index=True)
    return pd.DataFrame(columns)


def _refuse_mostly_bad(total: int, bad: BadRows, path: Path, provider: str, hint: str) -> None:
    if total and (bad.count == total or (total >= 10 and bad.count > total * MAX_BAD_SHARE)):
        first = bad.examples[0] if bad.examples else None
        raise ProviderError(
            f"provider {provider}: {bad.count} of {total} rows of {path} are bad, first "
            f"{first}{hint}; nothing of this file is used and the last good data stays served"
        )


def _parsed(
    frame: pd.DataFrame, bad: BadRows, latest: pd.Timestamp, now: pd.Timestamp
) -> ParsedFile:
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
