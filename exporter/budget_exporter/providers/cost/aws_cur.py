"""AWS Cost and Usage Report files (Data Exports CUR 2.0, or legacy CUR in Parquet or CSV).

Line item types follow the CUR user guide: credits and refunds are negative, taxes are ``tax``;
reservation and Savings Plans fees (``RIFee``, ``Fee``, ``SavingsPlan*Fee``) are purchases,
upfront ones counted at once. With ``cost: amortized`` the usage covered by a reservation or
Savings Plan carries its effective cost, the unused part of a commitment stays on its fee line,
and upfront fees and Savings Plans negations count zero, as AWS documents amortized cost.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ...model.bad_rows import BadRows
from ...model.costs import CostData, concat_frames, normalize
from ...model.errors import ProviderError
from ...model.moments import moment_of, moment_text
from ..base import CostProvider, ProviderConfig, ProviderContext
from ..support import engine
from ..support.aws_client import make_client
from ..support.cost_files import (
    TAIL_MARGIN,
    WHOLE_READ_EVERY,
    KeptFileCache,
    kept_folder,
    with_unused,
)
from ..support.engine import ReadLimits, quote
from ..support.files import CacheEntry, FileCache, collect_bad_groups, expand_paths, null_mask
from ..support.s3_mirror import S3Mirror, is_s3_url
from .aws_cur_config import AwsCurConfig

START = "line_item_usage_start_date"
END = "line_item_usage_end_date"
TYPE = "line_item_line_item_type"
UNBLENDED = "line_item_unblended_cost"
NET_UNBLENDED = "line_item_net_unblended_cost"
CURRENCY = "line_item_currency_code"
INVOICE = "bill_invoice_id"
PERIOD_START = "bill_billing_period_start_date"
TAG_MAP = "resource_tags"
TAG_PREFIX = "resource_tags_"
PRODUCT_MAP = "product"

CATEGORIES = {
    "Usage": "usage",
    "DiscountedUsage": "usage",
    "SavingsPlanCoveredUsage": "usage",
    "SavingsPlanNegation": "usage",
    # Negotiated rate reductions lower usage, as they do on the invoice.
    "Discount": "usage",
    "BundledDiscount": "usage",
    "EdpDiscount": "usage",
    "PrivateRateDiscount": "usage",
    "DistributorDiscount": "usage",
    "Credit": "credit",
    "Refund": "refund",
    "Tax": "tax",
    "RIFee": "purchase",
    "Fee": "purchase",
    "SavingsPlanRecurringFee": "purchase",
    "SavingsPlanUpfrontFee": "purchase",
}
ONE_TIME = frozenset({"Fee", "SavingsPlanUpfrontFee"})
# Line items that say how far metering has got; fees, taxes and credits span the whole month.
METERED = frozenset({"Usage", "DiscountedUsage", "SavingsPlanCoveredUsage"})

# Columns the amortized view needs, by line item type (AWS's amortized-cost formula).
AMORTIZED_COLUMNS = {
    "SavingsPlanCoveredUsage": ("savings_plan_savings_plan_effective_cost",),
    "SavingsPlanRecurringFee": (
        "savings_plan_total_commitment_to_date",
        "savings_plan_used_commitment",
    ),
    "DiscountedUsage": ("reservation_effective_cost",),
    "RIFee": (
        "reservation_unused_amortized_upfront_fee_for_billing_period",
        "reservation_unused_recurring_fee",
    ),
    "Fee": ("reservation_reservation_a_r_n",),
}

# Dimension -> candidate columns, first present wins (CUR 2.0 names, then legacy ones).
DIMENSIONS = {
    "BillingAccountId": ("bill_payer_account_id",),
    "BillingAccountName": ("bill_payer_account_name",),
    "SubAccountId": ("line_item_usage_account_id",),
    "SubAccountName": ("line_item_usage_account_name",),
    "ServiceName": ("product_product_name", "product.product_name", "line_item_product_code"),
    "x_ServiceCode": ("line_item_product_code",),
    "RegionId": ("product_region_code", "product_region", "product.region"),
    "AvailabilityZone": ("line_item_availability_zone",),
    "x_LineItemType": (TYPE,),
}


class AwsCurProvider(CostProvider[AwsCurConfig]):
    """Reads CUR exports; files are re-parsed only when they change on disk."""

    type_name: ClassVar[str] = "aws_cur"
    config_model: ClassVar[type[ProviderConfig]] = AwsCurConfig

    def __init__(self, name: str, config: ProviderConfig, context: ProviderContext):
        super().__init__(name, config, context)
        self._cache: FileCache[_Parsed] = _KeptCur(kept_folder(name, config, context))
        self._mirror: S3Mirror | None = None

    def client_factory(self) -> Any:
        """An S3 client for s3:// paths; tests replace this with a stubbed client."""
        settings = self.settings
        return make_client(
            self.name,
            "s3",
            region=settings.region or "us-east-1",
            profile=settings.profile,
            endpoint_url=settings.endpoint_url,
        )

    def fetch(self, now: datetime) -> CostData:
        paths = self._paths()
        parsed = [
            self._cache.get(
                path,
                self._parse_file,
                update=lambda path, entry: self._update(path, entry, now),
                now=now,
            )
            for path in paths
        ]
        self._cache.forget_except(paths)
        bad = BadRows()
        for item in parsed:
            bad = bad + item.bad
        ends = [item.data_end for item in parsed if item.data_end is not None]
        data_end = max(ends).to_pydatetime() if ends else None
        known = [item for item in parsed if item.invoiced is not None]
        settled: datetime | None = None
        if known and data_end is not None:
            open_periods = [item.invoiced for item in known if item.invoiced is not pd.NaT]
            settled = min(open_periods).to_pydatetime() if open_periods else data_end
        return CostData(
            frame=concat_frames([item.frame for item in parsed]),
            data_end=data_end,
            bad_rows=bad,
            settled_through=settled,
            sources=len(paths),
        )

    def _paths(self) -> list[Path]:
        """Local files matching the local patterns, plus fresh copies of matching S3 objects."""
        local = tuple(p for p in self.settings.paths if not is_s3_url(p))
        remote = [p for p in self.settings.paths if is_s3_url(p)]
        paths = expand_paths(local, self.context.base_dir, self.name) if local else []
        if remote:
            mirror = self._s3_mirror()
            for pattern in remote:
                paths += mirror.sync(pattern)
        return paths

    def _s3_mirror(self) -> S3Mirror:
        if self._mirror is None:
            configured = self.settings.cache_dir
            if configured:
                folder = Path(self.context.base_dir, configured).expanduser()
            elif self.context.cache_dir:
                folder = Path(self.context.cache_dir)
            else:
                raise ProviderError(
                    f"provider {self.name}: s3:// paths need a folder for local copies: "
                    "set state_dir or cache_dir"
                )
            self._mirror = S3Mirror(self.name, folder / "aws_cur" / self.name, self.client_factory)
        return self._mirror

    def _update(
        self, path: Path, entry: CacheEntry[_Parsed], now: datetime
    ) -> tuple[_Parsed, bool]:
        """A changed file: its settled days as read before, the rest read again (or all of it).

        The current month's export is rewritten daily; the lines that ended before its newest
        usage minus ``settlement_lag`` are kept as read, for at most a day after the last whole
        read (a restatement of settled days shows within a day).
        """
        since = self._settled_until(entry, now)
        if since is not None:
            tail = self._parse_file(path, since - TAIL_MARGIN)
            merged = _settled_and_tail(entry.value, tail, since)
            if merged is not None:
                return merged, False
        return self._parse_file(path), True

    def _settled_until(self, entry: CacheEntry[_Parsed], now: datetime) -> pd.Timestamp | None:
        """The UTC midnight up to which the file's lines as read before are final, if any."""
        before, whole = entry.value, entry.whole_read
        if whole is None or before.data_end is None or before.frame.empty:
            return None
        if not timedelta(0) <= now - whole < WHOLE_READ_EVERY:
            return None
        # Bad rows carry no date: which of them are settled is unknown, so read it all.
        if before.bad.count:
            return None
        newest = min(pd.Timestamp(before.data_end), pd.Timestamp(now))
        since = (newest - self.settings.settlement_lag).floor("D")
        return since if since > before.frame["start"].min() else None

    def _parse_file(self, path: Path, since: pd.Timestamp | None = None) -> _Parsed:
        """One file's groups; with ``since``, only of the lines whose usage may end after it
        (the first open billing period still of the whole file)."""
        limits = ReadLimits(spill_dir=self.context.cache_dir)
        schema = engine.schema(path, self.name, limits)
        rename, columns = self._columns(path, schema)
        missing = [column for column in (START, UNBLENDED) if column not in columns]
        if missing:
            raise ProviderError(
                f"provider {self.name}: {path} is not a CUR file: missing column(s) "
                f"{', '.join(missing)}"
            )
        main = NET_UNBLENDED if self.settings.cost == "net_unblended" else UNBLENDED
        main = main if main in columns else UNBLENDED
        numbers = {UNBLENDED, NET_UNBLENDED, *(c for cs in AMORTIZED_COLUMNS.values() for c in cs)}
        numbers.discard("reservation_reservation_a_r_n")  # only whether it is set matters
        keys = {
            name: quote(name)
            for name in sorted(self._wanted_columns(columns) - numbers)
            if name in columns and name != "reservation_reservation_a_r_n"
        }
        if INVOICE in keys:  # only whether a period is invoiced matters, not by which invoice
            keys[INVOICE] = _open(INVOICE)
        if TAG_MAP in keys and (tag_keys := self._map_keys(schema.get(TAG_MAP, ""))):
            # Only the keys budgets use, looked up in the engine: grouping by every line's
            # whole map costs more. NULL: the key is absent; '': present without a value.
            # Most candidate keys are absent from most maps (a tag has two, with and without
            # user_), so presence is asked first: one lookup where the key is absent.
            del keys[TAG_MAP]
            cell = quote(TAG_MAP)
            for key in tag_keys:
                text = engine.literal(key)
                keys[f"{TAG_MAP}.{key}"] = (
                    f"CASE WHEN map_contains({cell}, {text}) "
                    f"THEN coalesce(CAST({cell}[{text}] AS VARCHAR), '') END"
                )
        if "reservation_reservation_a_r_n" in columns:
            keys["reservation_reservation_a_r_n"] = _open("reservation_reservation_a_r_n")
        raw = engine.grouped(
            path,
            self.name,
            limits,
            keys=keys,
            cost=main,
            sums={name: name for name in sorted(numbers) if name in columns},
            rename=rename,
            types=schema,
            where=engine.may_end_after(since, [c for c in (START, END) if c in columns])
            if since is not None
            else None,
        )
        for column, text in ((INVOICE, "invoiced"), ("reservation_reservation_a_r_n", "yes")):
            if column in raw.columns:  # empty cells, as ``null_mask`` reads them below
                raw[column] = raw[column].map({True: "", False: text}).astype("object")
        start = _times(raw[START])
        types = (
            raw[TYPE].astype("object").where(~null_mask(raw[TYPE]), "Usage")
            if TYPE in raw.columns
            else pd.Series("Usage", index=raw.index, dtype="object")
        )
        cost = self._cost(raw, types, path)
        if CURRENCY in raw.columns:
            currency = raw[CURRENCY].astype("object").where(~null_mask(raw[CURRENCY]))
        else:
            currency = pd.Series(self.context.currency, index=raw.index, dtype="object")
        bad = (
            collect_bad_groups(start.isna(), f"{START} is not a date-time", path, raw)
            + collect_bad_groups(
                start.notna() & cost.isna(),
                f"{self.settings.cost} cost is not a number",
                path,
                raw,
            )
            + collect_bad_groups(
                start.notna() & cost.notna() & currency.isna(),
                f"{CURRENCY} is empty",
                path,
                raw,
            )
        )
        end = _times(raw[END]) if END in raw.columns else pd.Series(pd.NaT, index=raw.index)
        end = end.where(end.notna() & (end >= start), start + pd.Timedelta(hours=1))
        end = end.where(~types.isin(ONE_TIME), start)
        frame = pd.DataFrame({"start": start, "end": end, "cost": cost, "currency": currency})
        frame["charge_category"] = types.map(CATEGORIES).where(types.isin(CATEGORIES), "usage")
        frame["ProviderName"] = "AWS"
        for dimension, candidates in self._dimensions().items():
            values = _first_column(raw, candidates)
            if values is not None:
                frame[dimension] = values
        frame = pd.concat([frame, self._tags(raw)], axis=1)
        every = {**DIMENSIONS, **self._extra()}
        frame = with_unused(
            frame, [name for name, cs in every.items() if any(c in columns for c in cs)]
        )
        valid = start.notna() & cost.notna() & currency.notna()
        metered = valid & types.isin(METERED)
        ends = end[metered] if metered.any() else end[valid]
        if since is None:
            invoiced = _open_period(raw)
        else:  # of the whole file: settled lines of an open period keep it open
            invoiced = self._open_period_of_file(path, limits, rename, columns)
        return _Parsed(
            frame=normalize(frame[valid].reset_index(drop=True)),
            bad=bad,
            data_end=ends.max() if valid.any() else None,
            invoiced=invoiced,
            metered_end=end[metered].max() if metered.any() else None,
        )

    def _open_period_of_file(
        self, path: Path, limits: ReadLimits, rename: dict[str, str], columns: set[str]
    ) -> Any:
        """``_open_period`` of every line of the file, from the period starts of open lines."""
        if INVOICE not in columns or PERIOD_START not in columns:
            return None
        starts = engine.distinct_cells(
            path, self.name, limits, PERIOD_START, where=_open(INVOICE), rename=rename
        )
        return _times(starts).min() if len(starts) else pd.NaT

    def _map_keys(self, kind: str) -> list[str]:
        """The keys of a tag map column of engine type ``kind`` that the wanted tags are read
        from, sorted; none when every tag is wanted or the column is no map of text keys."""
        names = self._tag_names()
        if names is None or not kind.startswith("MAP(VARCHAR,"):
            return []
        # A tag name comes from its key with or without the user_ prefix (``_tag_name``).
        keys = {f"user_{name}" for name in names}
        keys |= {name for name in names if not name.startswith("user_")}
        return sorted(keys)

    def _columns(self, path: Path, names: dict[str, str]) -> tuple[dict[str, str], set[str]]:
        """Legacy CSV headers renamed to Parquet names, and the file's columns after that."""
        if engine.is_parquet(path):
            return {}, set(names)
        rename = {name: legacy_column_name(name) for name in names if "/" in name}
        return rename, {rename.get(name, name) for name in names}

    def _dimensions(self) -> dict[str, tuple[str, ...]]:
        """The dimensions some budget uses (all, when unknown), with their candidate columns."""
        wanted = self.context.dimensions
        every = {**DIMENSIONS, **self._extra()}
        if wanted is None:
            return every
        # New purchases are told by service and SKU (CUR has no SKU dimension here).
        return {name: cs for name, cs in every.items() if name in wanted or name == "ServiceName"}

    def _extra(self) -> dict[str, tuple[str, ...]]:
        return {name: (column,) for name, column in self.settings.extra_dimensions.items()}

    def _wanted_columns(self, present: set[str] | None = None) -> set[str]:
        columns = {START, END, TYPE, UNBLENDED, NET_UNBLENDED, CURRENCY, INVOICE, PERIOD_START}
        dimensions = self._dimensions()
        if self._tag_names() != set():
            columns.add(TAG_MAP)
        if any(c.startswith(f"{PRODUCT_MAP}.") for cs in dimensions.values() for c in cs):
            columns.add(PRODUCT_MAP)
        for candidates in dimensions.values():
            # The first candidate present is the one read: the others stay out of the groups.
            found = [c for c in candidates if present is None or c in present]
            columns |= set(found[:1] if present is not None else candidates)
        for needed in AMORTIZED_COLUMNS.values():
            columns |= set(needed)
        for column in present or ():
            if column.startswith(TAG_PREFIX) and self._wants_tag(column.removeprefix(TAG_PREFIX)):
                columns.add(column)
        return columns

    def _tag_names(self) -> set[str] | None:
        """Tag names to keep (None: every one): the configured ones that some budget uses."""
        configured = set(self.settings.tags)
        wanted = self.context.dimensions
        if wanted is None:
            return configured or None
        used = {name.removeprefix("tags.") for name in wanted if name.startswith("tags.")}
        return (configured & used) if configured else used

    def _wants_tag(self, key: str) -> bool:
        names = self._tag_names()
        return names is None or _tag_name(key) in names

    def _cost(self, raw: pd.DataFrame, types: pd.Series, path: Path) -> pd.Series:
        unblended = _numbers(raw[UNBLENDED])
        basis = self.settings.cost
        if basis == "net_unblended":
            # The net column exists only when the account had discounts; without it, net = gross.
            return _numbers(raw[NET_UNBLENDED]) if NET_UNBLENDED in raw.columns else unblended
        if basis == "unblended":
            return unblended
        missing = sorted(
            {
                column
                for line_type, columns in AMORTIZED_COLUMNS.items()
                if (types == line_type).any()
                for column in columns
                if column not in raw.columns
            }
        )
        if missing:
            raise ProviderError(
                f"provider {self.name}: {path} has reservation or Savings Plans line items but "
                f"lacks {', '.join(missing)}: export them, or use cost: unblended"
            )

        def column(name: str) -> pd.Series:
            if name in raw.columns:
                return _numbers(raw[name]).fillna(0.0)
            return pd.Series(0.0, index=raw.index)

        has_reservation = (
            ~null_mask(raw["reservation_reservation_a_r_n"])
            if "reservation_reservation_a_r_n" in raw.columns
            else pd.Series(False, index=raw.index)
        )
        choices = [
            (
                types == "SavingsPlanCoveredUsage",
                column("savings_plan_savings_plan_effective_cost"),
            ),
            (
                types == "SavingsPlanRecurringFee",
                column("savings_plan_total_commitment_to_date")
                - column("savings_plan_used_commitment"),
            ),
            (types.isin(["SavingsPlanNegation", "SavingsPlanUpfrontFee"]), 0.0),
            (types == "DiscountedUsage", column("reservation_effective_cost")),
            (
                types == "RIFee",
                column("reservation_unused_amortized_upfront_fee_for_billing_period")
                + column("reservation_unused_recurring_fee"),
            ),
            ((types == "Fee") & has_reservation, 0.0),
        ]
        amortized = unblended.copy()
        for mask, value in reversed(choices):
            amortized = amortized.where(~mask, value)
        return amortized.where(unblended.notna())

    def _tags(self, raw: pd.DataFrame) -> pd.DataFrame:
        """``tags.KEY`` columns from the CUR 2.0 map column or legacy ``resource_tags_*``."""
        columns: dict[str, pd.Series] = {}
        if TAG_MAP in raw.columns:
            parsed = raw[TAG_MAP].map(_as_mapping)
            keys = sorted({key for tags in parsed for key in tags})
            for key in keys:
                if self._wants_tag(key):
                    name = _tag_name(key)
                    columns[f"tags.{name}"] = parsed.map(lambda tags, key=key: tags.get(key, ""))
        looked_up = [c for c in raw.columns if c.startswith(f"{TAG_MAP}.")]
        for column in sorted(looked_up):  # as above: of two keys of one name, the last wins
            values = raw[column].astype("object")
            if values.notna().any():  # a key in no line's map gives no column, as above
                name = _tag_name(column.removeprefix(f"{TAG_MAP}."))
                columns[f"tags.{name}"] = values.where(values.notna(), "")
        for column in raw.columns:
            if column.startswith(TAG_PREFIX) and self._wants_tag(column.removeprefix(TAG_PREFIX)):
                name = _tag_name(column.removeprefix(TAG_PREFIX))
                values = raw[column].astype("object")
                columns[f"tags.{name}"] = values.where(~null_mask(values), "")
        return pd.DataFrame(columns, index=raw.index)


class _Parsed:
    """One file's contribution: its frame, bad rows, newest metered time, first open period."""

    def __init__(
        self,
        frame: pd.DataFrame,
        bad: BadRows,
        data_end: pd.Timestamp | None,
        invoiced: Any,
        metered_end: pd.Timestamp | None = None,
    ):
        self.frame = frame
        self.bad = bad
        self.data_end = data_end
        # None: no invoice column; NaT: every period invoiced; else start of the first open one.
        self.invoiced = invoiced
        # The newest end of a metered line (not kept across restarts: only a fresh read's).
        self.metered_end = metered_end


def _settled_and_tail(before: _Parsed, tail: _Parsed, since: pd.Timestamp) -> _Parsed | None:
    """The lines of ``before`` that ended by ``since`` and those of ``tail`` that end after it.

    None when the tail has no metered line ending after ``since``: the newest metered end may
    then be a settled line's, which only a whole read tells.
    """
    if tail.metered_end is None or tail.metered_end <= since:
        return None
    kept = before.frame[before.frame["end"] <= since]
    fresh = tail.frame[tail.frame["end"] > since]
    return _Parsed(
        frame=normalize(concat_frames([kept, fresh])),
        bad=tail.bad,  # ``before`` had none
        data_end=tail.metered_end,
        invoiced=tail.invoiced,
        metered_end=tail.metered_end,
    )


def _open(column: str) -> str:
    """Whether a line's cell of ``column`` is empty (for the invoice: its period is open).

    A truth value, named after grouping: cheaper on every line than a CASE giving text.
    """
    return f"coalesce(trim({quote(column)}) IN ('', 'NULL', 'null'), true)"


def legacy_column_name(header: str) -> str:
    """A legacy CUR CSV header as the same column is named in Parquet exports.

    ``lineItem/UsageStartDate`` -> ``line_item_usage_start_date``, ``reservation/ReservationARN``
    -> ``reservation_reservation_a_r_n``, ``resourceTags/user:CostCenter`` ->
    ``resource_tags_user_cost_center``: each capital starts a word, ``/`` and ``:`` join them.
    Names without a ``/`` are already Parquet names and stay as they are.
    """
    if "/" not in header:
        return header
    words = []
    for part in header.split("/"):
        snake = re.sub(r"([A-Z])", r"_\1", part).lower()
        words.append(re.sub(r"[^a-z0-9]+", "_", snake).strip("_"))
    return "_".join(word for word in words if word)


def _times(values: pd.Series) -> pd.Series:
    """UTC timestamps from Parquet timestamps (naive means UTC in CUR) or ISO 8601 text."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values, utc=True)
    else:
        text = values.astype("object").where(~null_mask(values))
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    return parsed.astype("datetime64[ns, UTC]")


def _numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values.where(~null_mask(values)), errors="coerce").astype("float64")


def _first_column(raw: pd.DataFrame, candidates: Iterable[str]) -> pd.Series | None:
    """The first candidate column present; ``product.KEY`` reads the CUR 2.0 product map."""
    for candidate in candidates:
        if candidate.startswith(f"{PRODUCT_MAP}.") and PRODUCT_MAP in raw.columns:
            key = candidate.split(".", 1)[1]
            products = raw[PRODUCT_MAP].map(_as_mapping)
            if any(key in product for product in products):
                return products.map(lambda product, key=key: product.get(key, ""))
            continue
        if candidate in raw.columns:
            values = raw[candidate]
            if pd.api.types.is_numeric_dtype(values):
                # Account ids read as numbers lose leading zeros; AWS ids have 12 digits.
                return values.map(lambda v: "" if pd.isna(v) else f"{int(v):012d}")
            text = values.astype("object")
            return text.where(~null_mask(text), "")
    return None


def _as_mapping(value: Any) -> dict[str, str]:
    """A CUR map cell (pyarrow list of pairs, dict, or JSON text) as a dict of text."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            return {}
    items: Iterable[tuple[Any, Any]]
    if isinstance(value, dict):
        items = value.items()
    else:
        try:
            items = [(pair[0], pair[1]) for pair in value]
        except (TypeError, IndexError, KeyError):
            return {}
    return {str(k): "" if v is None else str(v) for k, v in items}


def _tag_name(key: str) -> str:
    """CUR tag key -> tag name: user-defined tags lose their ``user_`` prefix."""
    return key.removeprefix("user_")


def _open_period(raw: pd.DataFrame) -> Any:
    """Start of the first billing period not invoiced yet (its rows can still change)."""
    if INVOICE not in raw.columns or PERIOD_START not in raw.columns:
        return None
    open_rows = null_mask(raw[INVOICE])
    if not open_rows.any():
        return pd.NaT
    return _times(raw[PERIOD_START][open_rows]).min()


class _KeptCur(KeptFileCache[_Parsed]):
    """CUR files' groups kept in the state folder, so a restart reads only changed files."""

    def encode(self, value: _Parsed) -> tuple[pd.DataFrame, BadRows, dict[str, str | None]]:
        invoiced = value.invoiced
        return (
            value.frame,
            value.bad,
            {
                "data_end": moment_text(value.data_end),
                # None: the files say nothing of invoices; NaT: every period is invoiced.
                "invoiced": "NaT" if invoiced is pd.NaT else moment_text(invoiced),
            },
        )

    def decode(self, frame: pd.DataFrame, bad: BadRows, fields: dict[str, str | None]) -> _Parsed:
        invoiced = fields["invoiced"]
        return _Parsed(
            frame,
            bad,
            moment_of(fields["data_end"]),
            pd.NaT if invoiced == "NaT" else moment_of(invoiced),
        )
