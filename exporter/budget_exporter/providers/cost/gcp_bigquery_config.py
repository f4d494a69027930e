"""Settings of a ``gcp_bigquery`` provider (BigQuery billing export), apart from its SDK."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field

from ...model.fields import Duration, TextList, ZoneName
from ..base_config import ProviderConfig

# Table names cannot be query parameters in BigQuery, so the name is checked strictly instead.
TABLE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*\.[A-Za-z0-9_]+\.[A-Za-z0-9_]+$"


class GcpBigQueryConfig(ProviderConfig):
    """Config of a ``gcp_bigquery`` provider."""

    type: Literal["gcp_bigquery"]
    # project.dataset.gcp_billing_export_v1_XXXXXX_XXXXXX_XXXXXX
    table: str = Field(pattern=TABLE_PATTERN)
    # Project that runs (and pays for) the query; default: the table's project.
    project: str | None = None
    location: str | None = None
    labels: TextList = ()
    credentials_file: Path | None = None
    # Only for emulators and local test servers.
    anonymous: bool = False
    api_endpoint: str | None = None
    history: Duration = timedelta(days=400)
    timezone: ZoneName | None = None
    timeout: Duration = timedelta(minutes=5)
    maximum_bytes_billed: int | None = Field(default=None, gt=0)
