"""Settings of a ``csv`` provider, apart from its reading."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from ...model.fields import ZoneName
from ..support.cost_files_config import CostFileConfig


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
