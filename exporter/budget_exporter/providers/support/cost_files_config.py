"""Settings of every provider that reads cost files, apart from the reading."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from ...model.fields import Duration, TextList
from ..base_config import ProviderConfig


class CostFileConfig(ProviderConfig):
    """Settings of a provider that reads cost files: globs relative to the config file."""

    paths: TextList = Field(min_length=1)
    # A gzip file whose text is larger, or a CSV line longer, fails the provider (bounded memory).
    max_decompressed_bytes: int = Field(default=64 << 30, gt=0)
    max_field_bytes: int = Field(default=8 << 20, gt=0, le=1 << 30)
    # Rows starting later than now plus this are bad rows: a date typo must not hide staleness.
    clock_skew: Duration = timedelta(hours=1)
