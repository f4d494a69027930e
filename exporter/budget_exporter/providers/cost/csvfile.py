"""Any cost CSV (plain or gzip) with a column mapping: date, cost, currency, dimensions."""

from __future__ import annotations

import json
import logging
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, NamedTuple
from zoneinfo import ZoneInfo

import pandas as pd

from ...model.bad_rows import BadRows
from ...model.errors import ProviderError
from ..base import ProviderConfig
from ..support import engine
from ..support.cost_files import (
    FUTURE_HORIZON,
    CostFileProvider,
    ReadText,
    appended_text,
    csv_text,
    date_format_hint,
    file_identity,
    file_result,
    read_text,
    row_problems,
    with_unused,
)
from ..support.engine import LINE, ROWS, quote
from ..support.files import CacheEntry, ParsedFile, null_mask
from .csvfile_config import CsvConfig

log = logging.getLogger(__name__)

CATEGORY_ALIASES = {
    "usage": "usage",
    "purchase": "purchase",
    "fee": "purchase",
    "tax": "tax",
    "credit": "credit",
    "refund": "refund",
    "adjustment": "refund",
}


def _as_text(value: object) -> str | None:
    """A cell as text for date parsing; missing values stay missing."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value if isinstance(value, str) else str(value)


# No bill is older; an earlier date is a typo (0001-01-01) and its row a bad one.
EARLIEST = pd.Timestamp("1900-01-01")


def _dates(texts: pd.Series, date_format: str | None) -> pd.Series:
    """Dates (naive or with an offset) of each distinct text; one out of range is NaT alone."""
    distinct = pd.Series(texts.dropna().unique(), dtype="object")
    fmt = date_format or "ISO8601"
    try:
        values = pd.to_datetime(distinct, errors="coerce", format=fmt)
    except (ValueError, OverflowError):
        values = pd.Series([_date(text, fmt) for text in distinct], dtype="object")
        values = pd.to_datetime(values, errors="coerce")
    lookup = dict(zip(distinct, values, strict=True))
    dates = pd.to_datetime(texts.map(lambda text: lookup.get(text, pd.NaT)), errors="coerce")
    if isinstance(dates.dtype, pd.DatetimeTZDtype) or dates.dtype.kind == "M":
        # pandas reads dates in microseconds, so 0001-01-01 is a date here, but the cost frame
        # holds nanoseconds (from 1677 on): left in, it failed the whole file.
        floor = EARLIEST if dates.dt.tz is None else EARLIEST.tz_localize("UTC")
        dates = dates.where(dates >= floor)
    return dates


def _date(text: str, fmt: str) -> Any:
    try:
        return pd.to_datetime(text, format=fmt)
    except (ValueError, OverflowError):
        return pd.NaT


class _Part(NamedTuple):
    """The rows of some lines of a file, before the checks of the whole file."""

    frame: pd.DataFrame
    bad: BadRows
    groups: pd.DataFrame
    latest: pd.Timestamp
    hint: str
    rows: int  # data lines read
    daily: bool
    dates: str  # the type the dates were read as: naive, or with their offset
    beyond: bool  # some row starts beyond the future horizon (a bad row that time may heal)


class CsvProvider(CostFileProvider[CsvConfig]):
    """Reads daily (or finer) cost rows from CSV files.

    A CSV file (plain or gzip) that changed is read from the end of what was read before when
    its text begins byte for byte with what was read (its SHA-256 was kept): the lines
    appended are parsed and their groups added to those kept. Anything else is read whole: a
    file rewritten or cut anywhere before its old end, a Parquet file, lines whose dates read
    otherwise than the file's did (another offset, times in a file of days), or a file that
    held a date beyond the future horizon (the clock may make it good). A gzip file is still
    inflated from its start, which costs a fraction of parsing it.
    """

    type_name: ClassVar[str] = "csv"
    config_model: ClassVar[type[ProviderConfig]] = CsvConfig

    def parse_file(
        self, path: Path, now: datetime, since: pd.Timestamp | None = None
    ) -> ParsedFile:
        # Dates of any strftime format: no condition on them reaches the engine (reads_tail is
        # off); appended lines are read alone instead (``_update``).
        try:
            stored = csv_text(path)
            before = file_identity(path) if stored is not None else None
        except OSError:
            stored = before = None  # the engine's read says what is wrong with the file
        part = self._part(path, path, now)
        parsed = self._result(part, path, now)
        try:
            read = None
            if stored is not None and before is not None:
                read = read_text(path, stored, part.rows, before)
        except (OSError, EOFError, zlib.error):  # changed since: the next read is a whole one
            read = None
        note = _note(read, stored, part) if read is not None and stored is not None else None
        self._cache.note(path, parsed, note)
        return parsed

    def _update(
        self, path: Path, entry: CacheEntry[ParsedFile], now: datetime
    ) -> tuple[ParsedFile, bool]:
        """A changed file: the lines appended since the last read, when that is all that
        changed, else the whole file."""
        note = self._cache.noted(path, entry.value)
        if note is not None:
            try:
                appended = self._appended(path, entry.value, note, now)
            except (ProviderError, OSError) as error:  # the whole read names the file itself
                log.info("provider %s: %s is read whole: %s", self.name, path, error)
                appended = None
            if appended is not None:
                return appended, False
        return self.parse_file(path, now), True

    def _appended(
        self, path: Path, before: ParsedFile, note: str, now: datetime
    ) -> ParsedFile | None:
        """``before`` and the groups of the lines appended after what it was read from, or
        None when the file must be read whole."""
        try:
            seen = json.loads(note)
            if seen.get("version") != NOTE_VERSION or seen["beyond"]:
                return None
            read = ReadText(int(seen["length"]), int(seen["rows"]), str(seen["sha256"]))
            wanted = (bool(seen["daily"]), str(seen["dates"]))
            kind = str(seen["stored"])
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            log.warning("provider %s: ignoring the note of %s (%s)", self.name, path, error)
            return None
        stored = csv_text(path)
        if stored != kind:  # compressed since, or no longer: the engine goes by the name
            return None
        with appended_text(path, stored, read, self.limits()) as found:
            if found is None:
                return None
            copy, after = found
            if after.length == read.length:  # no complete line more: what was read stands
                return before
            # A file of days stays one while lines of days are appended (else it is read
            # whole: all its rows become hours); in a file of hours every line is an hour.
            daily = None if wanted[0] else False
            part = self._part(copy, path, now, offset=read.rows, daily=daily)
        if (part.daily, part.dates) != wanted:
            return None
        parsed = self._result(part, path, now, before=(before, read.rows))
        whole = ReadText(after.length, read.rows + part.rows, after.sha256)
        self._cache.note(path, parsed, _note(whole, stored, part))
        return parsed

    def _result(
        self, part: _Part, path: Path, now: datetime, before: tuple[ParsedFile, int] | None = None
    ) -> ParsedFile:
        return file_result(
            part.frame,
            part.bad,
            part.groups,
            path,
            self.name,
            part.latest,
            pd.Timestamp(now),
            part.hint,
            before=before,
        )

    def _part(
        self,
        source: Path,
        path: Path,
        now: datetime,
        offset: int = 0,
        daily: bool | None = None,
    ) -> _Part:
        """The rows of ``source``, which holds the lines of ``path`` after its first
        ``offset`` data lines (all of them by default). ``daily`` overrides the guess of
        days or hours where ``granularity`` does not."""
        settings = self.settings
        columns = engine.schema(source, self.name, self.limits())
        wanted = [settings.date_column, settings.cost_column, *settings.dimensions.values()]
        for optional in (settings.currency_column, settings.category_column):
            if optional:
                wanted.append(optional)
        missing = [column for column in wanted if column not in columns]
        if missing:
            raise ProviderError(
                f"provider {self.name}: {path} lacks column(s) {', '.join(missing)}; "
                f"it has {', '.join(map(str, columns))}"
            )
        used = self.context.dimensions
        dimensions = {
            name: column
            for name, column in settings.dimensions.items()
            if used is None or name in used
        }
        keys = {settings.date_column: quote(settings.date_column)}
        if settings.currency_column:
            keys[settings.currency_column] = quote(settings.currency_column)
        if settings.category_column:
            keys[settings.category_column] = f"lower(trim({quote(settings.category_column)}))"
        keys.update({column: quote(column) for column in dimensions.values()})
        raw = engine.grouped(
            source,
            self.name,
            self.limits(),
            keys=keys,
            cost=settings.cost_column,
            strip_commas=True,
        )
        raw[LINE] += offset
        latest = pd.Timestamp(now) + settings.clock_skew
        zone = ZoneInfo(settings.timezone or self.context.timezone)
        dates = raw[settings.date_column].where(~null_mask(raw[settings.date_column]))
        # Parquet may hold dates as numbers (20240101); parsed as text they stay dates.
        dates = dates.map(_as_text)
        parsed = _dates(dates, settings.date_format)
        # Daily when every time is a midnight, in its own offset (Z, +02:00) or else in the
        # zone: a daily export stamped 2026-11-01T00:00:00Z is still one row per day.
        if settings.granularity is not None:
            daily = settings.granularity == "daily"
        elif daily is None:
            times = parsed.dropna()
            daily = bool((times.dt.normalize() == times).all())
        kind = str(parsed.dtype)
        if daily:
            parsed = parsed.dt.normalize()  # a row covers the day that holds it
        if parsed.dt.tz is None:
            start = parsed.dt.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
            following = (parsed + pd.Timedelta(days=1)).dt.tz_localize(
                zone, ambiguous="NaT", nonexistent="shift_forward"
            )
        else:
            start = parsed
            following = parsed + pd.Timedelta(days=1)
        start = start.dt.tz_convert("UTC")
        cost = raw["cost"]
        if settings.currency_column:
            currency = raw[settings.currency_column].where(
                ~null_mask(raw[settings.currency_column])
            )
        else:
            currency = pd.Series(settings.currency or self.context.currency, index=raw.index)
        bad = row_problems(
            path,
            raw,
            start=start,
            cost=cost,
            currency=currency,
            date_problem=f"{settings.date_column} is not a date",
            cost_column=settings.cost_column,
            currency_problem="currency is empty",
            latest=latest,
        )
        end = following.dt.tz_convert("UTC") if daily else start + pd.Timedelta(hours=1)
        frame = pd.DataFrame({"start": start, "end": end, "cost": cost, "currency": currency})
        if settings.category_column:
            text = raw[settings.category_column].astype("object").str.strip().str.lower()
            category = text.map(CATEGORY_ALIASES)
            frame["charge_category"] = category.where(category.notna(), "usage")
        else:
            frame["charge_category"] = "usage"
        for dimension, column in dimensions.items():
            frame[dimension] = raw[column].astype("object").where(~null_mask(raw[column]), "")
        undated = dates[start.isna()].dropna()
        hint = date_format_hint(undated.iloc[0], "date_format") if len(undated) else ""
        frame = with_unused(frame, list(settings.dimensions))
        return _Part(
            frame=frame,
            bad=bad,
            groups=raw,
            latest=latest,
            hint=hint,
            rows=int(raw[ROWS].sum()),
            daily=daily,
            dates=kind,
            beyond=bool((start > latest + FUTURE_HORIZON).any()),
        )


# Of the notes kept with a file's groups: another version's are not read, the file is read whole.
NOTE_VERSION = 1


def _note(read: ReadText, stored: str, part: _Part) -> str | None:
    """What the next read of the file needs to read only what is appended to it."""
    if part.beyond:
        return None
    return json.dumps(
        {
            "version": NOTE_VERSION,
            "length": read.length,
            "rows": read.rows,
            "sha256": read.sha256,
            "stored": stored,
            "daily": part.daily,
            "dates": part.dates,
            "beyond": part.beyond,
        }
    )
