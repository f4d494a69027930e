"""Settings of an ``azure_cost_management`` provider, apart from its HTTP client."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from ...model.charges import Accrual
from ...model.fields import Duration, TextList
from ..base_config import ProviderConfig


class AzureCostManagementConfig(ProviderConfig):
    """Config of an ``azure_cost_management`` provider."""

    type: Literal["azure_cost_management"]
    # /subscriptions/ID, /subscriptions/ID/resourceGroups/NAME,
    # /providers/Microsoft.Billing/billingAccounts/ID, /providers/Microsoft.Management/...
    scope: str = Field(pattern=r"^/(subscriptions|providers)/[^?#\s]+$")
    cost_type: Literal["ActualCost", "AmortizedCost"] = "ActualCost"

    def default_accrual(self) -> Accrual:
        """AmortizedCost spreads reservation purchases over their term; ActualCost is cash."""
        return "pro_rata" if self.cost_type == "AmortizedCost" else "charge_start"

    # At most two, as the API allows; "tag:KEY" groups by a tag.
    group_by: TextList = ("ServiceName",)
    auth: Literal["client_secret", "azure_identity"] = "client_secret"
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    client_secret_file: Path | None = None
    management_endpoint: str = "https://management.azure.com"
    authority_host: str = "https://login.microsoftonline.com"
    api_version: str = "2023-11-01"
    history: Duration = timedelta(days=400)
    max_days_per_query: int = Field(default=31, ge=1, le=366)
    timeout: Duration = timedelta(seconds=60)

    @field_validator("group_by")
    @classmethod
    def _two_groupings(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) > 2:
            raise ValueError("the Query API groups by at most two dimensions or tags")
        if sum(1 for item in value if item.startswith("tag:")) > 1:
            raise ValueError("the Query API groups by at most one tag")
        return value

    @model_validator(mode="after")
    def _credentials_present(self) -> AzureCostManagementConfig:
        if self.auth == "client_secret":
            missing = [k for k in ("tenant_id", "client_id") if not getattr(self, k)]
            if self.client_secret is None and self.client_secret_file is None:
                missing.append("client_secret (or client_secret_file)")
            if missing:
                raise ValueError(f"auth client_secret needs {', '.join(missing)}")
        return self
