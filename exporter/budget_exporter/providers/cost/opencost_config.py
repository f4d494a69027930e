"""Settings of an ``opencost`` provider, and the dimension each aggregation fills."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from ...model.fields import Duration, TextList
from ..base_config import ProviderConfig

# Aggregation -> dimension; Kubernetes has no FOCUS column, hence the x_ prefix.
PROPERTIES = {
    "cluster": "x_Cluster",
    "node": "x_Node",
    "namespace": "x_Namespace",
    "controllerKind": "x_ControllerKind",
    "controller": "x_Controller",
    "service": "x_Service",
    "pod": "x_Pod",
    "container": "x_Container",
    "deployment": "x_Controller",
    "statefulset": "x_Controller",
    "daemonset": "x_Controller",
    "job": "x_Controller",
}


def dimension_name(aggregate: str) -> str:
    """Normalized dimension for one aggregation: ``label:team`` becomes ``tags.team``."""
    if aggregate.startswith("label:"):
        return f"tags.{aggregate[6:]}"
    if aggregate.startswith("annotation:"):
        return f"annotations.{aggregate[11:]}"
    return PROPERTIES[aggregate]


class OpenCostConfig(ProviderConfig):
    """Config of an ``opencost`` provider."""

    type: Literal["opencost"]
    url: str = Field(default="http://localhost:9003", pattern=r"^https?://[^?#\s]+$")
    aggregate: TextList = ("namespace",)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    include_idle: bool = True
    share_idle: bool = False
    # Only when OpenCost sits behind an authenticating proxy.
    token: SecretStr | None = None
    token_file: Path | None = None
    history: Duration = timedelta(days=30)
    timeout: Duration = timedelta(seconds=120)

    @field_validator("aggregate")
    @classmethod
    def _known_aggregations(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one aggregation, for example namespace")
        for item in value:
            prefix, _, key = item.partition(":")
            if prefix in ("label", "annotation"):
                if not key or ";" in key:
                    raise ValueError(f"{item!r}: name one {prefix}, as in {prefix}:team")
            elif item not in PROPERTIES:
                known = ", ".join([*PROPERTIES, "label:KEY", "annotation:KEY"])
                raise ValueError(f"unknown aggregation {item!r}; known: {known}")
        names = [dimension_name(item) for item in value]
        if len(set(names)) != len(names):
            raise ValueError("two aggregations would fill the same dimension")
        return value
