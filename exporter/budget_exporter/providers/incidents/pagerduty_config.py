"""Settings of a ``pagerduty`` provider, apart from its client."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator

from ...model.fields import TextList
from .api_config import ApiIncidentConfig


class PagerDutyConfig(ApiIncidentConfig):
    """Config of a ``pagerduty`` provider."""

    type: Literal["pagerduty"]
    base_url: str = "https://api.pagerduty.com"
    token: SecretStr | None = None
    token_file: Path | None = None
    service_ids: TextList = ()
    team_ids: TextList = ()
    urgencies: TextList = ()

    @model_validator(mode="after")
    def _one_token(self) -> PagerDutyConfig:
        if (self.token is None) == (self.token_file is None):
            raise ValueError("set exactly one of token (from ${ENV}) or token_file")
        return self
