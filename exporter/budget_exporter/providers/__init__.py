"""Data sources. Each module holds one provider type; all return the normalized cost frame."""

from __future__ import annotations

from .base import CostData, CostProvider, ProviderConfig, ProviderContext
from .csvfile import CsvProvider
from .demo import DemoProvider
from .focus import FocusProvider

COST_PROVIDERS: dict[str, type[CostProvider]] = {
    provider.type_name: provider for provider in (FocusProvider, CsvProvider, DemoProvider)
}

__all__ = [
    "COST_PROVIDERS",
    "CostData",
    "CostProvider",
    "ProviderConfig",
    "ProviderContext",
    "build_provider",
]


def build_provider(name: str, config: ProviderConfig, context: ProviderContext) -> CostProvider:
    """Instantiate the provider for a validated provider config."""
    return COST_PROVIDERS[config.type](name, config, context)
