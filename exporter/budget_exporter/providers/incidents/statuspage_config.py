"""Settings of a ``statuspage`` provider, apart from its client."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from .api_config import ApiIncidentConfig

DEFAULT_IMPACT_WEIGHTS = {"none": 0.0, "minor": 0.25, "major": 0.5, "critical": 1.0}


class StatuspageConfig(ApiIncidentConfig):
    """Config of a ``statuspage`` provider: a public ``url``, or a ``page_id`` and API key."""

    type: Literal["statuspage"]
    url: str | None = None
    page_id: str | None = None
    api_url: str = "https://api.statuspage.io/v1"
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    impact_weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_IMPACT_WEIGHTS))

    @model_validator(mode="after")
    def _one_source(self) -> StatuspageConfig:
        if (self.url is None) == (self.page_id is None):
            raise ValueError("set either url (public page) or page_id (management API)")
        has_key = self.api_key is not None or self.api_key_file is not None
        if self.page_id is not None and not has_key:
            raise ValueError("page_id needs api_key (from ${ENV}) or api_key_file")
        if self.api_key is not None and self.api_key_file is not None:
            raise ValueError("set only one of api_key or api_key_file")
        for name, weight in self.impact_weights.items():
            if not 0.0 <= weight <= 1.0:
                raise ValueError(f"impact_weights.{name} must be between 0 and 1")
        return self
