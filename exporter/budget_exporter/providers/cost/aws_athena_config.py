"""Settings of an ``aws_athena`` provider (CUR in Athena), apart from its queries."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator

from ...model.charges import Accrual
from ...model.fields import Duration, TextList
from ..base_config import ProviderConfig

# Names are quoted into the SQL (Athena takes no parameters for them), so they are strict.
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"


class AwsAthenaConfig(ProviderConfig):
    """Config of an ``aws_athena`` provider."""

    type: Literal["aws_athena"]
    database: str
    table: str
    catalog: str = "AwsDataCatalog"
    workgroup: str = Field(default="primary", pattern=r"^[A-Za-z0-9._-]+$")
    # Where Athena writes results; optional when the workgroup sets one.
    output_location: str | None = Field(default=None, pattern=r"^s3://[^\s]+$")
    # cur2: Data Exports CUR 2.0 (billing_period partition, product and resource_tags maps);
    # legacy: the legacy CUR's Athena integration (year/month partitions, flat columns).
    layout: Literal["cur2", "legacy"] = "cur2"
    cost: Literal["unblended", "net_unblended", "amortized"] = "unblended"
    tags: TextList = ()
    history: Duration = timedelta(days=400)
    monthly_scan_budget_bytes: int = Field(default=1_000_000_000_000, gt=0)  # 1 TB: 5 USD
    poll_interval: Duration = timedelta(seconds=2)
    timeout: Duration = timedelta(minutes=10)
    region: str = "us-east-1"
    profile: str | None = None
    endpoint_url: str | None = None

    @field_validator("database", "table", "catalog")
    @classmethod
    def _glue_name(cls, value: str) -> str:
        if not re.fullmatch(IDENTIFIER, value):
            raise ValueError(
                f"{value!r} is not a Glue name: letters, digits and '_' (it is quoted into the SQL)"
            )
        return value

    def default_accrual(self) -> Accrual:
        """As for ``aws_cur``: amortized cost spreads fees over their term."""
        return "pro_rata" if self.cost == "amortized" else "charge_start"
