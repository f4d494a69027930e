"""FOCUS (FinOps Open Cost and Usage Specification) 1.0+ billing files: CSV, CSV.gz, Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import pandas as pd

from ...model.costs import Accrual
from ...model.errors import ProviderError
from ...model.fields import TextList
from ..base import ProviderConfig
from ..support.cost_files import (
    CostFileConfig,
    CostFileProvider,
    file_result,
    row_problems,
)
from ..support.files import (
    ParsedFile,
    absurd_costs,
    collect_bad_rows,
    first_data_line,
    null_mask,
    parse_tags,
    read_table,
)

# Text columns of FOCUS 1.0 kept as dimensions. Columns with one value per line item
# (ResourceId, ChargeDescription) stay out: they would multiply rows without helping budgets.
FOCUS_DIMENSIONS = (
    "ProviderName",
    "PublisherName",
    "InvoiceIssuerName",
    "BillingAccountId",
    "BillingAccountName",
    "SubAccountId",
    "SubAccountName",
    "ServiceCategory",
    "ServiceName",
    "RegionId",
    "RegionName",
    "AvailabilityZone",
    "ResourceType",
    "SkuId",
    "PricingCategory",
    "ChargeClass",
    "CommitmentDiscountType",
)

# FOCUS 1.0 records refunds and other corrections as Adjustment.
CATEGORY_MAP = {
    "usage": "usage",
    "purchase": "purchase",
    "tax": "tax",
    "credit": "credit",
    "adjustment": "refund",
}


class FocusConfig(CostFileConfig):
    """Config of a ``focus`` provider."""

    type: Literal["focus"]
    cost_column: Literal["BilledCost", "EffectiveCost", "ListCost", "ContractedCost"] = "BilledCost"
    extra_dimensions: TextList = ()

    def default_accrual(self) -> Accrual:
        """EffectiveCost amortizes commitments over their term; the other columns are cash."""
        return "pro_rata" if self.cost_column == "EffectiveCost" else "charge_start"


class FocusProvider(CostFileProvider[FocusConfig]):
    """Reads FOCUS exports; files are re-parsed only when they change on disk."""

    type_name: ClassVar[str] = "focus"
    config_model: ClassVar[type[ProviderConfig]] = FocusConfig

    def parse_file(self, path: Path) -> ParsedFile:
        raw = read_table(path, self.name)
        cost_column = self.settings.cost_column
        missing = [c for c in ("ChargePeriodStart", cost_column) if c not in raw.columns]
        if missing:
            raise ProviderError(
                f"provider {self.name}: {path} is not a FOCUS file: "
                f"missing column(s) {', '.join(missing)}"
            )
        first_line = first_data_line(path)
        start = pd.to_datetime(
            raw["ChargePeriodStart"].where(~null_mask(raw["ChargePeriodStart"])),
            utc=True,
            errors="coerce",
            format="ISO8601",
        )
        cost = pd.to_numeric(raw[cost_column].where(~null_mask(raw[cost_column])), errors="coerce")
        absurd = absurd_costs(cost)
        cost = cost.where(~absurd)
        if "BillingCurrency" in raw.columns:
            currency = raw["BillingCurrency"].where(~null_mask(raw["BillingCurrency"]))
        else:
            currency = pd.Series(self.context.currency, index=raw.index)
        bad = row_problems(
            path,
            first_line,
            start=start,
            cost=cost,
            absurd=absurd,
            currency=currency,
            date_problem="ChargePeriodStart is not a date-time",
            cost_column=cost_column,
            currency_problem="BillingCurrency is empty",
        )
        end = self._ends(raw, start)
        frame = pd.DataFrame({"start": start, "end": end, "cost": cost, "currency": currency})
        if "ChargeCategory" in raw.columns:
            category = raw["ChargeCategory"].astype("object").str.lower().map(CATEGORY_MAP)
            frame["charge_category"] = category.where(category.notna(), "usage")
        else:
            frame["charge_category"] = "usage"
        for column in (*FOCUS_DIMENSIONS, *self.settings.extra_dimensions):
            if column in raw.columns:
                frame[column] = raw[column].where(~null_mask(raw[column]), "")
        if "Tags" in raw.columns:
            tags, bad_tags = parse_tags(raw["Tags"].where(~null_mask(raw["Tags"])))
            bad = bad + collect_bad_rows(
                bad_tags, "Tags is not a JSON object (row kept without tags)", path, first_line
            )
            frame = pd.concat([frame, tags], axis=1)
        return file_result(frame, bad)

    @staticmethod
    def _ends(raw: pd.DataFrame, start: pd.Series) -> pd.Series:
        """Charge period ends; one-time charges end where they start, so they count at once."""
        if "ChargePeriodEnd" in raw.columns:
            end = pd.to_datetime(
                raw["ChargePeriodEnd"].where(~null_mask(raw["ChargePeriodEnd"])),
                utc=True,
                errors="coerce",
                format="ISO8601",
            )
        else:
            end = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
        end = end.where(end.notna() & (end >= start), start + pd.Timedelta(hours=1))
        if "ChargeFrequency" in raw.columns:
            one_time = raw["ChargeFrequency"].astype("object").str.lower() == "one-time"
            end = end.where(~one_time, start)
        return end
