"""Any cost CSV (plain or gzip) with a column mapping: date, cost, currency, dimensions."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pandas as pd

from ...model.errors import ProviderError
from ..base import ProviderConfig
from ..support import engine
from ..support.cost_files import (
    CostFileProvider,
    date_format_hint,
    file_result,
    row_problems,
    with_unused,
)
from ..support.engine import quote
from ..support.files import ParsedFile, null_mask
from .csvfile_config import CsvConfig

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


class CsvProvider(CostFileProvider[CsvConfig]):
    """Reads daily (or finer) cost rows from CSV files."""

    type_name: ClassVar[str] = "csv"
    config_model: ClassVar[type[ProviderConfig]] = CsvConfig

    def parse_file(
        self, path: Path, now: datetime, since: pd.Timestamp | None = None
    ) -> ParsedFile:
        # Dates of any strftime format: the whole file is read (reads_tail is off).
        settings = self.settings
        columns = engine.schema(path, self.name, self.limits())
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
            path,
            self.name,
            self.limits(),
            keys=keys,
            cost=settings.cost_column,
            strip_commas=True,
        )
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
        else:
            times = parsed.dropna()
            daily = bool((times.dt.normalize() == times).all())
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
        return file_result(frame, bad, raw, path, self.name, latest, pd.Timestamp(now), hint)
