"""Settings of a ``databricks`` provider, apart from its SQL statements and client."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from ...model.fields import Duration, TextList
from ..base_config import ProviderConfig


class DatabricksConfig(ProviderConfig):
    """Config of a ``databricks`` provider."""

    type: Literal["databricks"]
    host: str = Field(pattern=r"^https?://[^/?#\s]+/?$")
    warehouse_id: str = Field(pattern=r"^[A-Za-z0-9]+$")
    # A personal access token, or an OAuth service principal (client id and secret).
    token: SecretStr | None = None
    token_file: Path | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    client_secret_file: Path | None = None
    # custom_tags keys that become tags.KEY dimensions (Project, Owner, OperationalCategory...).
    tags: TextList = ()
    history: Duration = timedelta(days=400)
    poll_interval: Duration = timedelta(seconds=5)
    statement_timeout: Duration = timedelta(minutes=10)
    timeout: Duration = timedelta(seconds=60)

    @model_validator(mode="after")
    def _one_credential(self) -> DatabricksConfig:
        has_token = self.token is not None or self.token_file is not None
        has_client = self.client_id is not None
        if has_token == has_client:
            raise ValueError(
                "set either token (or token_file) or client_id with client_secret "
                "(or client_secret_file)"
            )
        if has_client and self.client_secret is None and self.client_secret_file is None:
            raise ValueError("client_id needs client_secret or client_secret_file")
        return self
