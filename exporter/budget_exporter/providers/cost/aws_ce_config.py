"""Config of the ``aws_cost_explorer`` provider: metric, GroupBy keys, filter, request limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator

from ...model.charges import Accrual
from ...model.fields import Duration, StrictModel
from ..base_config import ProviderConfig

# Dimensions GetCostAndUsage accepts in GroupBy.
GROUP_DIMENSIONS = (
    "AZ",
    "INSTANCE_TYPE",
    "LEGAL_ENTITY_NAME",
    "INVOICING_ENTITY",
    "LINKED_ACCOUNT",
    "OPERATION",
    "PLATFORM",
    "PURCHASE_TYPE",
    "SERVICE",
    "TENANCY",
    "RECORD_TYPE",
    "USAGE_TYPE",
)
# GetCostForecast names the same metrics in upper snake case.
FORECAST_METRICS = {
    "UnblendedCost": "UNBLENDED_COST",
    "AmortizedCost": "AMORTIZED_COST",
    "NetUnblendedCost": "NET_UNBLENDED_COST",
    "NetAmortizedCost": "NET_AMORTIZED_COST",
    "BlendedCost": "BLENDED_COST",
}
CostMetric = Literal[
    "UnblendedCost", "AmortizedCost", "NetUnblendedCost", "NetAmortizedCost", "BlendedCost"
]


class GroupBy(StrictModel):
    """One GroupBy key; ``SERVICE``, ``tag:team`` and ``cost_category:Teams`` are shorthands."""

    type: Literal["DIMENSION", "TAG", "COST_CATEGORY"] = "DIMENSION"
    key: str = Field(min_length=1, max_length=1024)

    @classmethod
    def parse(cls, value: Any) -> Any:
        """Expand the string shorthand."""
        if not isinstance(value, str):
            return value
        kind, separator, key = value.partition(":")
        if not separator:
            return {"type": "DIMENSION", "key": value}
        kinds = {"tag": "TAG", "cost_category": "COST_CATEGORY", "dimension": "DIMENSION"}
        if kind.lower() not in kinds:
            raise ValueError(f"{value!r}: use DIMENSION, tag:KEY or cost_category:NAME")
        return {"type": kinds[kind.lower()], "key": key}


class AwsCostExplorerConfig(ProviderConfig):
    """Config of an ``aws_cost_explorer`` provider."""

    type: Literal["aws_cost_explorer"]
    metric: CostMetric = "UnblendedCost"

    def default_accrual(self) -> Accrual:
        """Amortized metrics spread fees over their term; the others are cash."""
        return "pro_rata" if "Amortized" in self.metric else "charge_start"

    group_by: tuple[GroupBy, ...] = Field(
        default=(GroupBy(key="SERVICE"),), max_length=2, description="at most two keys"
    )
    # With a free GroupBy slot, RECORD_TYPE fills it so credits, refunds, tax and fees get
    # their charge category (budgets can then include or exclude them).
    split_record_types: bool = True
    filter: dict[str, Any] | None = None
    history: Duration = timedelta(days=366)
    min_interval: Duration = timedelta(hours=4)
    monthly_request_budget: int = Field(default=500, ge=1)
    forecast: bool = False
    forecast_interval: Duration = timedelta(hours=24)
    forecast_prediction_level: int = Field(default=80, ge=51, le=99)
    region: str = "us-east-1"
    profile: str | None = None
    endpoint_url: str | None = None
    timeout: Duration = timedelta(seconds=30)
    cache_dir: str | None = None

    @field_validator("group_by", mode="before")
    @classmethod
    def _shorthands(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            return [GroupBy.parse(item) for item in value]
        return value

    @field_validator("group_by")
    @classmethod
    def _known_dimensions(cls, value: tuple[GroupBy, ...]) -> tuple[GroupBy, ...]:
        for group in value:
            if group.type == "DIMENSION" and group.key not in GROUP_DIMENSIONS:
                raise ValueError(
                    f"{group.key!r} cannot group costs; use one of {', '.join(GROUP_DIMENSIONS)}"
                )
        if len({(g.type, g.key) for g in value}) != len(value):
            raise ValueError("the same key is listed twice")
        return value

    @field_validator("history")
    @classmethod
    def _history_days(cls, value: timedelta) -> timedelta:
        if not timedelta(days=1) <= value <= timedelta(days=14 * 31):
            raise ValueError("must be between 1d and about 14 months (Cost Explorer's reach)")
        return value

    @field_validator("filter")
    @classmethod
    def _filter_is_expression(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        allowed = {"And", "Or", "Not", "Dimensions", "Tags", "CostCategories"}
        if value is not None and (not value or set(value) - allowed):
            raise ValueError(
                "must be one Cost Explorer Expression with one of the keys "
                f"{', '.join(sorted(allowed))}"
            )
        return value
