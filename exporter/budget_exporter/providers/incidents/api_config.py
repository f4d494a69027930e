"""Settings every incident provider reading an HTTP API accepts, apart from its client."""

from __future__ import annotations

from pydantic import Field

from .base_config import IncidentProviderConfig


class ApiIncidentConfig(IncidentProviderConfig):
    """Settings every incident provider reading an HTTP API accepts."""

    page_size: int = Field(default=100, ge=1, le=100)
    timeout: float = Field(default=30.0, gt=0, le=600)
