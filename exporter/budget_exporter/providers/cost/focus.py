"""FOCUS (FinOps Open Cost and Usage Specification) 1.0+ billing files: CSV, CSV.gz, Parquet."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import ClassVar

import pandas as pd

from ...model.errors import ProviderError
from ..base import ProviderConfig
from ..support import engine
from ..support.cost_files import (
    CostFileProvider,
    file_result,
    row_problems,
    with_unused,
)
from ..support.engine import TAGS_BAD, quote, tag_keys
from ..support.files import (
    ParsedFile,
    collect_bad_groups,
    null_mask,
    parse_tags,
    parse_times,
)
from .focus_config import FocusConfig

_times = parse_times

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

# The charge period: a line whose start and end are settled is left out of a read of the tail.
PERIOD = ("ChargePeriodStart", "ChargePeriodEnd")

# FOCUS 1.0 records refunds and other corrections as Adjustment.
CATEGORY_MAP = {
    "usage": "usage",
    "purchase": "purchase",
    "tax": "tax",
    "credit": "credit",
    "adjustment": "refund",
}


class FocusProvider(CostFileProvider[FocusConfig]):
    """Reads FOCUS exports; files are re-parsed only when they change on disk."""

    type_name: ClassVar[str] = "focus"
    config_model: ClassVar[type[ProviderConfig]] = FocusConfig
    reads_tail: ClassVar[bool] = True

    def parse_file(
        self, path: Path, now: datetime, since: pd.Timestamp | None = None
    ) -> ParsedFile:
        cost_column = self.settings.cost_column
        columns = engine.schema(path, self.name, self.limits())
        missing = [c for c in ("ChargePeriodStart", cost_column) if c not in columns]
        if missing:
            raise ProviderError(
                f"provider {self.name}: {path} is not a FOCUS file: "
                f"missing column(s) {', '.join(missing)}"
            )
        wanted = self.context.dimensions
        raw = engine.grouped(
            path,
            self.name,
            self.limits(),
            keys=self._keys(columns),
            cost=cost_column,
            where=engine.may_end_after(since, [n for n in PERIOD if n in columns])
            if since is not None
            else None,
            # Only the tag keys budgets use are read, each distinct Tags cell parsed once.
            cells={"Tags": tag_keys("Tags", sorted(wanted))}
            if "Tags" in columns and wanted is not None
            else {},
            types=columns,
        )
        latest = pd.Timestamp(now) + self.settings.clock_skew
        start = _times(raw["ChargePeriodStart"])
        cost = raw["cost"]
        if "BillingCurrency" in raw.columns:
            currency = raw["BillingCurrency"].where(~null_mask(raw["BillingCurrency"]))
        else:
            currency = pd.Series(self.context.currency, index=raw.index)
        bad = row_problems(
            path,
            raw,
            start=start,
            cost=cost,
            currency=currency,
            date_problem="ChargePeriodStart is not a date-time",
            cost_column=cost_column,
            currency_problem="BillingCurrency is empty",
            latest=latest,
        )
        end = self._ends(raw, start)
        frame = pd.DataFrame({"start": start, "end": end, "cost": cost, "currency": currency})
        if "ChargeCategory" in raw.columns:
            category = raw["ChargeCategory"].astype("object").str.lower().map(CATEGORY_MAP)
            frame["charge_category"] = category.where(category.notna(), "usage")
        else:
            frame["charge_category"] = "usage"
        for column in self._dimensions(columns):
            frame[column] = raw[column].astype("object").where(~null_mask(raw[column]), "")
        if "Tags" in raw.columns:
            tags, bad_tags = parse_tags(raw["Tags"].where(~null_mask(raw["Tags"])))
            frame = pd.concat([frame, tags], axis=1)
        elif TAGS_BAD in raw.columns:
            bad_tags = raw[TAGS_BAD].astype(bool)
            for column in raw.columns:
                values = raw[column].astype("object")
                # As with every key read: a tag column exists when some row has the key.
                if column.startswith("tags.") and values.notna().any():
                    frame[column] = values.where(values.notna(), "")
        else:
            bad_tags = None
        if bad_tags is not None:
            bad = bad + collect_bad_groups(
                bad_tags, "Tags is not a JSON object (row kept without tags)", path, raw
            )
        every = [c for c in (*FOCUS_DIMENSIONS, *self.settings.extra_dimensions) if c in columns]
        frame = with_unused(frame, every)
        return file_result(frame, bad, raw, path, self.name, latest, pd.Timestamp(now))

    def _dimensions(self, columns: dict[str, str]) -> list[str]:
        """The dimension columns of the file that some budget uses (all, when unknown)."""
        wanted = self.context.dimensions
        names = [c for c in (*FOCUS_DIMENSIONS, *self.settings.extra_dimensions) if c in columns]
        if wanted is None:
            return names
        # New purchases are told by service and SKU: the SKU is kept on purchase rows only.
        return [c for c in names if c in wanted or c in ("ServiceName", "SkuId")]

    def _keys(self, columns: dict[str, str]) -> dict[str, str]:
        """What the engine groups by: the cells as written, dimensions only where used."""
        keys: dict[str, str] = {
            name: quote(name)
            for name in ("ChargePeriodStart", "ChargePeriodEnd", "BillingCurrency")
            if name in columns
        }
        for name in ("ChargeCategory", "ChargeFrequency"):
            if name in columns:
                keys[name] = f"lower({quote(name)})"
        wanted = self.context.dimensions
        for name in self._dimensions(columns):
            keys[name] = quote(name)
        if "SkuId" in keys and wanted is not None and "SkuId" not in wanted:
            purchase = (
                "lower(\"ChargeCategory\") = 'purchase'" if "ChargeCategory" in columns else "false"
            )
            keys["SkuId"] = f'CASE WHEN {purchase} THEN "SkuId" END'
        if "Tags" in columns and wanted is None:
            keys["Tags"] = quote("Tags")  # every key: the cells are parsed here
        return keys

    @staticmethod
    def _ends(raw: pd.DataFrame, start: pd.Series) -> pd.Series:
        """Charge period ends; one-time charges end where they start, so they count at once."""
        if "ChargePeriodEnd" in raw.columns:
            end = _times(raw["ChargePeriodEnd"])
        else:
            end = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
        end = end.where(end.notna() & (end >= start), start + pd.Timedelta(hours=1))
        if "ChargeFrequency" in raw.columns:
            one_time = raw["ChargeFrequency"].astype("object").str.lower() == "one-time"
            end = end.where(~one_time, start)
        return end
