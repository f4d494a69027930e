"""Settings of an ``opsgenie`` provider, apart from its client."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from .api_config import ApiIncidentConfig


class OpsgenieConfig(ApiIncidentConfig):
    """Config of an ``opsgenie`` provider."""

    type: Literal["opsgenie"]
    region: Literal["us", "eu"] = "us"
    base_url: str | None = None  # overrides the region's host
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    query: str = ""  # an Opsgenie search query, e.g. "tag:customer-facing"
    service_names: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_key(self) -> OpsgenieConfig:
        if (self.api_key is None) == (self.api_key_file is None):
            raise ValueError("set exactly one of api_key (from ${ENV}) or api_key_file")
        return self
