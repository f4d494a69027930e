"""The provider interface: ``fetch(now)`` -> data, on settings of a ``base_config.ProviderConfig``.

Cost providers return a ``model.costs.CostData`` (the normalized frame), incident providers a
``model.incidents.IncidentData``; ``providers.registry`` maps each ``type:`` name to its class,
``providers.settings`` to its settings.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar, Generic, TypeVar, cast

from pydantic import SecretStr

from ..model.costs import CostData
from ..model.fields import read_secret
from ..model.metric_family import FamilySpec, ProviderMetric
from .base_config import ProviderConfig as ProviderConfig

ConfigT = TypeVar("ConfigT", bound=ProviderConfig)
DataT = TypeVar("DataT")


class Provider(ABC, Generic[ConfigT, DataT]):
    """A data source with settings of type ``ConfigT``. Implementations do I/O only in ``fetch``."""

    type_name: ClassVar[str]
    config_model: ClassVar[type[ProviderConfig]]
    # The provider-specific families ``metrics`` fills, if any.
    families: ClassVar[tuple[FamilySpec, ...]] = ()

    def __init__(self, name: str, config: ProviderConfig, context: ProviderContext):
        if not isinstance(config, self.config_model):
            raise TypeError(
                f"provider {name}: settings of {type(config).__name__}, "
                f"expected {self.config_model.__name__}"
            )
        self.name = name
        # config_model is the ConfigT of the subclass: checked above, so the cast holds.
        self.settings: ConfigT = cast(ConfigT, config)
        self.context = context

    @abstractmethod
    def fetch(self, now: datetime) -> DataT:
        """Read the source and return its data up to ``now``.

        Raises ProviderError (or OSError/ValueError) when the source as a whole is unusable.
        """

    def metrics(self) -> tuple[ProviderMetric, ...]:
        """Provider-specific samples (API requests made, their cost...); none by default."""
        return ()

    def secret(self, value: SecretStr | None, file: Path | None, file_key: str) -> str | None:
        """The secret given inline or in the file set as ``file_key`` (None when neither is)."""
        return read_secret(value, file, self.context.base_dir, f"provider {self.name}: {file_key}")


class CostProvider(Provider[ConfigT, CostData]):
    """A source of cost data: ``fetch`` returns the normalized cost frame."""


@dataclass(frozen=True)
class ProviderContext:
    """Global settings a provider may need."""

    timezone: str
    currency: str
    base_dir: str
    # Folder where a provider may keep its own files across restarts (paid API results,
    # request counts); None keeps them in memory only.
    cache_dir: str | None = None
    # The dimensions some budget filters or breaks down on; file providers keep only these
    # (None: every dimension, for callers that know no budgets).
    dimensions: frozenset[str] | None = None
