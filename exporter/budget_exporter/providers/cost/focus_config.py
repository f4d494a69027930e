"""Settings of a ``focus`` provider (FOCUS exports), apart from its reading."""

from __future__ import annotations

from typing import Literal

from ...model.charges import Accrual
from ...model.fields import TextList
from ..support.cost_files_config import CostFileConfig


class FocusConfig(CostFileConfig):
    """Config of a ``focus`` provider."""

    type: Literal["focus"]
    cost_column: Literal["BilledCost", "EffectiveCost", "ListCost", "ContractedCost"] = "BilledCost"
    extra_dimensions: TextList = ()

    def default_accrual(self) -> Accrual:
        """EffectiveCost amortizes commitments over their term; the other columns are cash."""
        return "pro_rata" if self.cost_column == "EffectiveCost" else "charge_start"
