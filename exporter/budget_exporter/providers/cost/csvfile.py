"""Any cost CSV (plain or gzip) with a column mapping: date, cost, currency, dimensions."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

import pandas as pd
from pydantic import Field, field_validator

from ...model.errors import ProviderError
from ...model.fields import ZoneName
from ..base import ProviderConfig
from ..support.cost_files import (
    CostFileConfig,
    CostFileProvider,
    file_result,
    row_problems,
)
from ..support.files import (
    ParsedFile,
    absurd_costs,
    null_mask,
    read_table,
)

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


class CsvConfig(CostFileConfig):
    """Config of a ``csv`` provider. Dates without a time or offset are read in ``timezone``.

    A file whose dates all fall on midnight (in their own offset, else in ``timezone``) holds
    daily rows, each covering its day; any other file holds hourly rows. ``granularity``
    overrides the guess: ``daily`` spreads a row over the day that holds it, ``hourly`` over
    the hour from its time.
    """

    type: Literal["csv"]
    date_column: str = "date"
    cost_column: str = "cost"
    currency_column: str | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    category_column: str | None = None
    # Either a list of column names, or a mapping of dimension name -> column name.
    dimensions: dict[str, str] = Field(default_factory=dict)
    timezone: ZoneName | None = None
    date_format: str | None = None
    granularity: Literal["daily", "hourly"] | None = None

    @field_validator("dimensions", mode="before")
    @classmethod
    def _list_to_mapping(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return {str(item): str(item) for item in value}
        return value


class CsvProvider(CostFileProvider[CsvConfig]):
    """Reads daily (or finer) cost rows from CSV files."""

    type_name: ClassVar[str] = "csv"
    config_model: ClassVar[type[ProviderConfig]] = CsvConfig

    def parse_file(self, path: Path) -> ParsedFile:
        settings = self.settings
        raw = read_table(path, self.name)
        wanted = [settings.date_column, settings.cost_column, *settings.dimensions.values()]
        for optional in (settings.currency_column, settings.category_column):
            if optional:
                wanted.append(optional)
        missing = [column for column in wanted if column not in raw.columns]
        if missing:
            raise ProviderError(
                f"provider {self.name}: {path} lacks column(s) {', '.join(missing)}; "
                f"it has {', '.join(map(str, raw.columns))}"
            )
        zone = ZoneInfo(settings.timezone or self.context.timezone)
        dates = raw[settings.date_column].where(~null_mask(raw[settings.date_column]))
        # Parquet may hold dates as numbers (20240101); parsed as text they stay dates.
        dates = dates.map(_as_text)
        parsed = pd.to_datetime(dates, errors="coerce", format=settings.date_format or "ISO8601")
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
        # Cell by cell: text columns may be str-typed (pandas 3) and Parquet columns hold floats.
        cost = pd.to_numeric(
            raw[settings.cost_column].map(
                lambda cell: cell.replace(",", "") if isinstance(cell, str) else cell
            ),
            errors="coerce",
        )
        absurd = absurd_costs(cost)
        cost = cost.where(~absurd)
        if settings.currency_column:
            currency = raw[settings.currency_column].where(
                ~null_mask(raw[settings.currency_column])
            )
        else:
            currency = pd.Series(settings.currency or self.context.currency, index=raw.index)
        bad = row_problems(
            path,
            2,
            start=start,
            cost=cost,
            absurd=absurd,
            currency=currency,
            date_problem=f"{settings.date_column} is not a date",
            cost_column=settings.cost_column,
            currency_problem="currency is empty",
        )
        end = following.dt.tz_convert("UTC") if daily else start + pd.Timedelta(hours=1)
        frame = pd.DataFrame({"start": start, "end": end, "cost": cost, "currency": currency})
        if settings.category_column:
            text = raw[settings.category_column].astype("object").str.strip().str.lower()
            category = text.map(CATEGORY_ALIASES)
            frame["charge_category"] = category.where(category.notna(), "usage")
        else:
            frame["charge_category"] = "usage"
        for dimension, column in settings.dimensions.items():
            frame[dimension] = raw[column].where(~null_mask(raw[column]), "")
        return file_result(frame, bad)
