"""Settings of a ``demo`` cost provider, apart from the synthetic bill it draws."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..base_config import ProviderConfig


class DemoConfig(ProviderConfig):
    """Config of a ``demo`` provider."""

    type: Literal["demo"]
    seed: int = 7
    history_days: int = Field(default=400, ge=1, le=3000)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
