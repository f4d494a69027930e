"""Settings of a ``demo_incidents`` provider, apart from the incidents it draws."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base_config import IncidentProviderConfig


class DemoIncidentsConfig(IncidentProviderConfig):
    """Config of a ``demo_incidents`` provider."""

    type: Literal["demo_incidents"]
    seed: int = 7
    history_days: int = Field(default=120, ge=1, le=3000)
