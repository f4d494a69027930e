"""Settings of the variance categories and recommendations, apart from their maths.

The config names these; they load pydantic only, so a config loads without NumPy.
"""

from __future__ import annotations

import math

from pydantic import Field, field_validator, model_validator

from ..model.fields import StrictModel, TextList


class VarianceConfig(StrictModel):
    """Spend against the expected spend for the elapsed share of the period, as a ratio."""

    slightly_over: float = Field(default=0.05, gt=0, le=10)
    over: float = Field(default=0.15, gt=0, le=10)
    under: float = Field(default=0.15, gt=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> VarianceConfig:
        if self.slightly_over >= self.over:
            raise ValueError(
                f"slightly_over ({self.slightly_over}) must be below over ({self.over})"
            )
        return self


class ShareRuleConfig(StrictModel):
    """One value of a dimension above ``share`` of the budget's spend is worth a look."""

    dimensions: TextList
    share: float = Field(gt=0, le=1)


class InsightsConfig(StrictModel):
    """Thresholds of the variance categories and of the recommendations."""

    variance: VarianceConfig = VarianceConfig()
    pace_factor: float = Field(default=1.2, gt=1, le=100)
    resource: ShareRuleConfig = ShareRuleConfig(dimensions=("ServiceName",), share=0.5)
    owner: ShareRuleConfig = ShareRuleConfig(dimensions=("tags.owner",), share=0.5)
    weeks: int = Field(default=8, ge=2, le=52)  # daily history read by weekday and trend

    @field_validator("pace_factor")
    @classmethod
    def _finite_factor(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value
