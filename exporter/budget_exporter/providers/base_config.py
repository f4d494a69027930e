"""The settings every provider accepts, apart from any provider's code.

The config validates providers' settings with these classes: they load pydantic and the model's
field types only, never pandas, an SDK or an HTTP client.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import ConfigDict, SecretStr, ValidationInfo, field_validator

from ..model.charges import Accrual
from ..model.fields import (
    MAX_WAIT,
    Duration,
    StrictModel,
    is_wait_setting,
    url_has_credentials,
)
from ..model.periods import format_duration


class ProviderConfig(StrictModel):
    """Settings every provider accepts."""

    # A config names a few of the provider types: each type's validator is built when its
    # settings are first validated, not for every type at each start of a command.
    model_config = ConfigDict(**StrictModel.model_config, defer_build=True)

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
