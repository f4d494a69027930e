"""The provider interface: settings every provider accepts, and ``fetch(now)`` -> data.

Cost providers return a ``model.costs.CostData`` (the normalized frame), incident providers a
``model.incidents.IncidentData``; ``providers.registry`` maps each ``type:`` name to its class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar, Generic, TypeVar, cast

from pydantic import SecretStr, ValidationInfo, field_validator

from ..model.costs import Accrual, CostData
from ..model.fields import (
    MAX_WAIT,
    Duration,
    StrictModel,
    is_wait_setting,
    read_secret,
    url_has_credentials,
)
from ..model.metric_family import FamilySpec, ProviderMetric
from ..model.periods import format_duration


class ProviderConfig(StrictModel):
    """Settings every provider accepts."""

    type: str
    # Billing data for the most recent days is provisional: the newest data minus this lag is
    # reported as settled, and files or APIs are re-read until then.
    settlement_lag: Duration = timedelta(days=3)
    # Data older than this is stale: exported so the data-age alert needs no per-provider rule.
    max_data_age: Duration = timedelta(days=2)
    # When charges longer than a day count; unset, the cost basis decides (see accrual_in_force).
    accrual: Accrual | None = None

    def default_accrual(self) -> Accrual:
        """The accrual of this provider's cost basis: cash bases count charges at their start."""
        return "charge_start"

    def accrual_in_force(self) -> Accrual:
        """The configured accrual, or the one the cost basis implies."""
        return self.accrual or self.default_accrual()

    @field_validator("*", mode="after")
    @classmethod
    def _no_secret_in_plain_sight(cls, value: object, info: ValidationInfo) -> object:
        # Checked for every provider at once: each new provider's URLs and secrets included.
        if isinstance(value, SecretStr) and not value.get_secret_value().strip():
            raise ValueError(
                "is empty (an unset environment variable?): give the secret, or remove the key"
            )
        if (
            isinstance(value, timedelta)
            and info.field_name is not None
            and is_wait_setting(info.field_name)
            and value > MAX_WAIT
        ):
            raise ValueError(f"must be at most {format_duration(MAX_WAIT)}")
        if isinstance(value, str) and url_has_credentials(value):
            secrets = cls.secret_settings()
            where = (
                f"the provider's secret settings ({', '.join(secrets)})"
                if secrets
                else ("the environment or a secret file")
            )
            raise ValueError(
                "holds a user name or password, which would show in logs and errors: "
                f"remove it from the URL and give the credentials in {where}"
            )
        return value

    @classmethod
    def secret_settings(cls) -> list[str]:
        """Names of the settings that take a secret, inline or as a file."""
        names = []
        for name, field in cls.model_fields.items():
            if "SecretStr" in str(field.annotation):
                names.append(name)
                if f"{name}_file" in cls.model_fields:
                    names.append(f"{name}_file")
        return names


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
