"""Settings of an ``aws_cur`` provider (Cost and Usage Report files), apart from its reading."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ...model.charges import Accrual
from ...model.fields import TextList
from ..base_config import ProviderConfig


class AwsCurConfig(ProviderConfig):
    """Config of an ``aws_cur`` provider."""

    type: Literal["aws_cur"]
    paths: TextList = Field(min_length=1)
    cost: Literal["unblended", "net_unblended", "amortized"] = "unblended"

    def default_accrual(self) -> Accrual:
        """Amortized cost spreads fees over their term, as Cost Explorer's amortized view does."""
        return "pro_rata" if self.cost == "amortized" else "charge_start"

    # Tag keys to keep as tags.KEY dimensions, without the user_ prefix; empty keeps all.
    tags: TextList = ()
    # More dimensions: name -> CUR column (``product.KEY`` reads a key of the product map).
    extra_dimensions: dict[str, str] = Field(default_factory=dict)
    # For s3:// paths: where local copies go (default: the state folder), and the client.
    cache_dir: str | None = None
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
