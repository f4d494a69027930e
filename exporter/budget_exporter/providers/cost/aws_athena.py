"""AWS CUR in Athena (Data Exports CUR 2.0, or the legacy CUR's Athena integration): summed per day
where the bill lives, so a bill of any size costs one small result set.

The query groups line items by UTC day of usage start, line item type, currency and the
dimensions below, and keeps the charge period of charges longer than a day (monthly fees,
taxes, credits), so the accrual decides when they count, as for ``aws_cur``. Cost bases and line
item types are those of ``aws_cur``. Athena bills by data scanned (5 USD per TB, at least 10 MB
per query): scanned bytes and their cost are counted and kept across restarts, a monthly scan
budget is never exceeded, and after the first full read only the days that can still change
are queried again, within the partition of their billing periods.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pandas as pd

from ...model.costs import CostData, empty_cost_frame
from ...model.costs import normalize as normalize_frame
from ...model.errors import ProviderError
from ...model.metric_family import FamilySpec, ProviderMetric
from ...model.periods import format_duration
from ..base import CostProvider, ProviderConfig, ProviderContext
from ..support.api_metrics import API_COST, API_REQUESTS
from ..support.atomic import atomic_write
from ..support.aws_client import aws_error, make_client
from ..support.daily import RecentDays, cache_path
from ..support.request_budget import month_end, month_of
from .aws_athena_config import AwsAthenaConfig
from .aws_cur import CATEGORIES, ONE_TIME

PRICE_PER_BYTE_USD = 5.0 / 1e12
MIN_BILLED_BYTES = 10 * 1024 * 1024
# A charge longer than this keeps its own period; shorter ones are buckets of one UTC day.
LONG_CHARGE_HOURS = 25
MAX_RESULTS = 1000

PERMISSION = (
    "athena:StartQueryExecution, athena:GetQueryExecution, athena:GetQueryResults, "
    "glue:GetTable and s3:GetObject on the export, s3:PutObject on the results location"
)

BYTES_SCANNED = FamilySpec(
    "budget_exporter_provider_query_scanned_bytes_total",
    "Bytes the provider's warehouse queries scanned (what Athena bills; kept across restarts).",
    "provider",
    kind="counter",
)
BYTES_SCANNED_MONTH = FamilySpec(
    "budget_exporter_provider_query_scanned_bytes_month",
    "Bytes the provider's queries scanned in the current UTC month, against the monthly scan "
    "budget in budget_exporter_provider_query_scanned_bytes_month_limit.",
    "provider",
)
BYTES_SCANNED_MONTH_LIMIT = FamilySpec(
    "budget_exporter_provider_query_scanned_bytes_month_limit",
    "Monthly scan budget: no query starts once the month's scanned bytes reach it.",
    "provider",
)


def _cost_expression(cost: str) -> str:
    if cost == "unblended":
        return "line_item_unblended_cost"
    if cost == "net_unblended":
        return "COALESCE(line_item_net_unblended_cost, line_item_unblended_cost)"
    # AWS's amortized-cost formula, as aws_cur computes it from the same columns.
    return """CASE line_item_line_item_type
      WHEN 'SavingsPlanCoveredUsage' THEN savings_plan_savings_plan_effective_cost
      WHEN 'SavingsPlanRecurringFee'
        THEN savings_plan_total_commitment_to_date - savings_plan_used_commitment
      WHEN 'SavingsPlanNegation' THEN 0
      WHEN 'SavingsPlanUpfrontFee' THEN 0
      WHEN 'DiscountedUsage' THEN reservation_effective_cost
      WHEN 'RIFee' THEN reservation_unused_amortized_upfront_fee_for_billing_period
        + reservation_unused_recurring_fee
      WHEN 'Fee' THEN CASE WHEN COALESCE(reservation_reservation_a_r_n, '') <> '' THEN 0
        ELSE line_item_unblended_cost END
      ELSE line_item_unblended_cost END"""


def _tag_column(layout: str, key: str) -> str:
    if layout == "cur2":
        return f"element_at(resource_tags, '{_quote('user_' + key)}')"
    return '"resource_tags_user_' + "".join(c if c.isalnum() else "_" for c in key).lower() + '"'


def _quote(text: str) -> str:
    return text.replace("'", "''")


def build_query(settings: AwsAthenaConfig) -> str:
    """The daily aggregation. Its ``?`` take, in order: the first billing period (or year and
    month), the usage window's start and end, all as SQL literals."""
    layout = settings.layout
    if layout == "cur2":
        service = "COALESCE(element_at(product, 'product_name'), line_item_product_code)"
        region = "product_region_code"
        partition = "billing_period >= ?"
    else:
        service = "COALESCE(product_product_name, line_item_product_code)"
        region = "product_region"
        partition = "CAST(year AS integer) * 100 + CAST(month AS integer) >= ?"
    tags = "".join(
        f",\n  {_tag_column(layout, key)} AS tag_{i}" for i, key in enumerate(settings.tags)
    )
    tag_keys = "".join(f", tag_{i}" for i in range(len(settings.tags)))
    table = f'"{settings.catalog}"."{settings.database}"."{settings.table}"'
    return f"""SELECT
  date_format(date_trunc('day', line_item_usage_start_date), '%Y-%m-%d') AS usage_day,
  CASE WHEN line_item_usage_end_date
      > line_item_usage_start_date + INTERVAL '{LONG_CHARGE_HOURS}' HOUR
    THEN date_format(line_item_usage_start_date, '%Y-%m-%dT%H:%i:%s') END AS period_start,
  CASE WHEN line_item_usage_end_date
      > line_item_usage_start_date + INTERVAL '{LONG_CHARGE_HOURS}' HOUR
    THEN date_format(line_item_usage_end_date, '%Y-%m-%dT%H:%i:%s') END AS period_end,
  line_item_line_item_type AS line_type,
  line_item_currency_code AS currency,
  bill_payer_account_id AS billing_account,
  line_item_usage_account_id AS sub_account,
  {service} AS service,
  line_item_product_code AS service_code,
  {region} AS region{tags},
  SUM({_cost_expression(settings.cost)}) AS cost
FROM {table}
WHERE {partition}
  AND line_item_usage_start_date >= ?
  AND line_item_usage_start_date < ?
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10{tag_keys}"""


@dataclass
class ScanLedger:
    """Queries run and bytes scanned, in all and in the current UTC month."""

    month: str = ""
    month_bytes: int = 0
    total_bytes: int = 0
    queries: dict[str, int] = field(default_factory=dict)

    def roll(self, now: datetime) -> None:
        """Start a new month's count when the month has changed."""
        if self.month != month_of(now):
            self.month, self.month_bytes = month_of(now), 0

    @property
    def cost_usd(self) -> float:
        """What the scans cost at Athena's price."""
        return round(self.total_bytes * PRICE_PER_BYTE_USD, 4)


class AwsAthenaProvider(CostProvider[AwsAthenaConfig]):
    """Daily CUR costs summed in Athena, within a monthly scan budget."""

    type_name: ClassVar[str] = "aws_athena"
    config_model: ClassVar[type[ProviderConfig]] = AwsAthenaConfig
    families: ClassVar[tuple[FamilySpec, ...]] = (
        API_REQUESTS,
        API_COST,
        BYTES_SCANNED,
        BYTES_SCANNED_MONTH,
        BYTES_SCANNED_MONTH_LIMIT,
    )

    def __init__(self, name: str, config: ProviderConfig, context: ProviderContext):
        super().__init__(name, config, context)
        self._days = RecentDays(cache_path(context, name, config))
        folder = Path(context.cache_dir) if context.cache_dir else None
        self._ledger_path = folder / f"{name}.scans.json" if folder else None
        self._ledger = self._load_ledger()
        self._client: Any = None
        self._header: list[str] = []

    def client_factory(self) -> Any:
        """An Athena client; tests replace this with a stubbed client."""
        settings = self.settings
        return make_client(
            self.name,
            "athena",
            region=settings.region,
            profile=settings.profile,
            endpoint_url=settings.endpoint_url,
        )

    def fetch(self, now: datetime) -> CostData:
        settings = self.settings
        plan = self._days.plan(now, settings.history, settings.settlement_lag, ZoneInfo("UTC"))
        until = min(plan.until, now)
        rows = self._query(plan.since, until, now)
        return self._days.cost_data(plan, self._to_frame(rows, now))

    def metrics(self) -> tuple[ProviderMetric, ...]:
        ledger = self._ledger
        samples = [
            ProviderMetric(API_REQUESTS, count, (("operation", operation),))
            for operation, count in sorted(ledger.queries.items())
        ]
        return (
            *samples,
            ProviderMetric(API_COST, ledger.cost_usd),
            ProviderMetric(BYTES_SCANNED, ledger.total_bytes),
            ProviderMetric(BYTES_SCANNED_MONTH, ledger.month_bytes),
            ProviderMetric(BYTES_SCANNED_MONTH_LIMIT, self.settings.monthly_scan_budget_bytes),
        )

    # -- the query --------------------------------------------------------------------------

    def _query(self, since: datetime, until: datetime, now: datetime) -> list[list[str | None]]:
        settings = self.settings
        ledger = self._ledger
        ledger.roll(now)
        if ledger.month_bytes >= settings.monthly_scan_budget_bytes:
            raise ProviderError(
                f"provider {self.name}: the monthly scan budget "
                f"({settings.monthly_scan_budget_bytes:,} bytes) is used up until "
                f"{month_end(now).date().isoformat()}: raise monthly_scan_budget_bytes"
            )
        client = self._athena()
        request: dict[str, Any] = {
            "QueryString": build_query(settings),
            "QueryExecutionContext": {"Catalog": settings.catalog, "Database": settings.database},
            "WorkGroup": settings.workgroup,
            "ExecutionParameters": self._parameters(since, until),
        }
        if settings.output_location:
            request["ResultConfiguration"] = {"OutputLocation": settings.output_location}
        started = self._call(client.start_query_execution, "StartQueryExecution", request)
        query_id = str(started.get("QueryExecutionId") or "")
        if not query_id:
            raise self._malformed("StartQueryExecution", "a QueryExecutionId")
        execution = self._wait(client, query_id)
        scanned = int(execution.get("Statistics", {}).get("DataScannedInBytes", 0) or 0)
        billed = max(scanned, MIN_BILLED_BYTES)
        ledger.month_bytes += billed
        ledger.total_bytes += billed
        self._save_ledger()
        return self._results(client, query_id)

    def _parameters(self, since: datetime, until: datetime) -> list[str]:
        """The ``?`` values as SQL literals: execution parameters are substituted as written."""
        first = since.astimezone(UTC)
        if self.settings.layout == "cur2":
            partition = f"'{first:%Y-%m}'"
        else:
            partition = str(first.year * 100 + first.month)
        stamp = "TIMESTAMP '{:%Y-%m-%d %H:%M:%S}'"
        return [
            partition,
            stamp.format(first.replace(tzinfo=None)),
            stamp.format(until.astimezone(UTC).replace(tzinfo=None)),
        ]

    def _wait(self, client: Any, query_id: str) -> dict[str, Any]:
        settings = self.settings
        deadline = time.monotonic() + settings.timeout.total_seconds()
        while True:
            answer = self._call(
                client.get_query_execution, "GetQueryExecution", {"QueryExecutionId": query_id}
            )
            execution = answer.get("QueryExecution")
            if not isinstance(execution, dict):
                raise self._malformed("GetQueryExecution", "a QueryExecution object")
            status = execution.get("Status") or {}
            state = status.get("State")
            if state == "SUCCEEDED":
                return execution
            if state in ("FAILED", "CANCELLED"):
                reason = str(status.get("StateChangeReason") or "no reason given")[:300]
                error = status.get("AthenaError") or {}
                categories = {1: "system", 2: "user", 3: "other"}
                category = categories.get(int(error.get("ErrorCategory") or 0))
                kind = f" ({category} error)" if category else ""
                raise ProviderError(
                    f"provider {self.name}: Athena query {query_id} {state.lower()}{kind}: {reason}"
                )
            if state not in ("QUEUED", "RUNNING"):
                raise self._malformed("GetQueryExecution", "a known Status.State")
            if time.monotonic() >= deadline:
                self._call(
                    client.stop_query_execution,
                    "StopQueryExecution",
                    {"QueryExecutionId": query_id},
                )
                raise ProviderError(
                    f"provider {self.name}: Athena query {query_id} ran longer than "
                    f"{format_duration(settings.timeout)}: stopped; raise timeout or check the "
                    "partitions"
                )
            time.sleep(settings.poll_interval.total_seconds())

    def _results(self, client: Any, query_id: str) -> list[list[str | None]]:
        rows: list[list[str | None]] = []
        token: str | None = None
        header: list[str] | None = None
        while True:
            request: dict[str, Any] = {"QueryExecutionId": query_id, "MaxResults": MAX_RESULTS}
            if token:
                request["NextToken"] = token
            page = self._call(client.get_query_results, "GetQueryResults", request)
            try:
                result_set = page["ResultSet"]
                names = [c["Name"] for c in result_set["ResultSetMetadata"]["ColumnInfo"]]
                page_rows = [
                    [cell.get("VarCharValue") for cell in row["Data"]] for row in result_set["Rows"]
                ]
            except (KeyError, TypeError) as error:
                raise self._malformed("GetQueryResults", f"a ResultSet ({error!s})") from None
            if header is None:
                header = names
                # The first row of a SELECT's first page repeats the column names.
                if page_rows and page_rows[0] == names:
                    page_rows = page_rows[1:]
            rows.extend(page_rows)
            token = page.get("NextToken")
            if not token:
                break
        self._header = header or []
        return rows

    def _call(self, method: Any, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        self._ledger.queries[operation] = self._ledger.queries.get(operation, 0) + 1
        try:
            answer = method(**request)
        except (ClientError, BotoCoreError) as error:
            raise aws_error(self.name, operation, error, PERMISSION) from None
        if not isinstance(answer, dict):
            raise self._malformed(operation, "a JSON object")
        return answer

    def _malformed(self, operation: str, expected: str) -> ProviderError:
        return ProviderError(
            f"provider {self.name}: Athena {operation} answered a malformed payload: "
            f"expected {expected}"
        )

    def _athena(self) -> Any:
        if self._client is None:
            self._client = self.client_factory()
        return self._client

    # -- rows -> frame ----------------------------------------------------------------------

    def _to_frame(self, rows: list[list[str | None]], now: datetime) -> pd.DataFrame:
        if not rows:
            return empty_cost_frame()
        raw = pd.DataFrame(rows, columns=self._header)
        needed = {"usage_day", "period_start", "period_end", "line_type", "currency", "cost"}
        missing = needed - set(raw.columns)
        if missing:
            raise ProviderError(
                f"provider {self.name}: query result lacks column(s) {', '.join(sorted(missing))}"
            )
        day = pd.to_datetime(raw["usage_day"], format="%Y-%m-%d", utc=True, errors="coerce")
        long_start = pd.to_datetime(raw["period_start"], utc=True, errors="coerce")
        long_end = pd.to_datetime(raw["period_end"], utc=True, errors="coerce")
        # Today's usage ends at now: its cost is not spread over hours still to come.
        following = day + pd.Timedelta(days=1)
        day_end = following.where(following <= pd.Timestamp(now), pd.Timestamp(now))
        start = long_start.where(long_start.notna(), day)
        end = long_end.where(long_end.notna(), day_end)
        types = raw["line_type"].fillna("Usage")
        end = end.where(~types.isin(ONE_TIME), start)
        cost = pd.to_numeric(raw["cost"], errors="coerce")
        if day.isna().any() or cost.isna().any() or raw["currency"].isna().any():
            raise ProviderError(
                f"provider {self.name}: query result has rows without a day, cost or currency"
            )
        frame = pd.DataFrame(
            {
                "start": start,
                "end": end,
                "cost": cost,
                "currency": raw["currency"],
                "charge_category": types.map(CATEGORIES).where(types.isin(CATEGORIES), "usage"),
                "ProviderName": "AWS",
                "BillingAccountId": raw.get("billing_account"),
                "SubAccountId": raw.get("sub_account"),
                "ServiceName": raw.get("service"),
                "x_ServiceCode": raw.get("service_code"),
                "RegionId": raw.get("region"),
                "x_LineItemType": types,
            }
        )
        for i, key in enumerate(self.settings.tags):
            frame[f"tags.{key}"] = raw.get(f"tag_{i}")
        return normalize_frame(frame.fillna({"ServiceName": "", "RegionId": ""}))

    # -- the scan ledger --------------------------------------------------------------------

    def _load_ledger(self) -> ScanLedger:
        path = self._ledger_path
        if path is None or not path.exists():
            return ScanLedger()
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            return ScanLedger(
                month=str(record["month"]),
                month_bytes=int(record["month_bytes"]),
                total_bytes=int(record["total_bytes"]),
                queries={str(k): int(v) for k, v in dict(record["queries"]).items()},
            )
        except (OSError, ValueError, TypeError, KeyError) as error:
            # Losing the count could overspend the scan budget: refuse rather than start at 0.
            raise ProviderError(
                f"provider {self.name}: scan ledger {path} is unreadable ({error}): fix or "
                "delete it (deleting resets this month's scanned bytes)"
            ) from None

    def _save_ledger(self) -> None:
        if self._ledger_path is None:
            return
        ledger = self._ledger
        record = {
            "month": ledger.month,
            "month_bytes": ledger.month_bytes,
            "total_bytes": ledger.total_bytes,
            "queries": ledger.queries,
        }
        atomic_write(self._ledger_path, json.dumps(record, indent=1).encode())
