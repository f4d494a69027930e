"""Azure Cost Management Query API: daily actual or amortized cost, grouped, all pages.

The tenant's query quota is small, so each refresh sends few, wide queries: one per
``max_days_per_query`` days at first, then one for the days still changing.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pandas as pd

from ...model.costs import CostData, empty_cost_frame
from ...model.costs import normalize as normalize_frame
from ...model.errors import ProviderError
from ...model.fields import read_secret
from ..base import CostProvider, ProviderConfig, ProviderContext
from ..support.daily import ReadPlan, RecentDays, cache_path, day_bounds
from ..support.http import HttpClient, RetryPolicy
from .azure_cost_management_config import AzureCostManagementConfig

UTC = ZoneInfo("UTC")
# Cost Management throttles per query cost, entity, tenant and client; each has its own header.
RETRY_AFTER_HEADERS = (
    "Retry-After",
    "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after",
    "x-ms-ratelimit-microsoft.costmanagement-client-retry-after",
)
# The cost column is named after the aggregated column and differs by agreement and version.
COST_COLUMNS = ("Cost", "PreTaxCost", "CostUSD", "PreTaxCostUSD")
# Azure dimension -> FOCUS column; any other becomes x_NAME, as in x_ResourceGroupName.
DIMENSIONS = {
    "ServiceName": "ServiceName",
    "ServiceFamily": "ServiceCategory",
    "SubscriptionId": "SubAccountId",
    "SubscriptionName": "SubAccountName",
    "ResourceLocation": "RegionName",
    "BillingAccountId": "BillingAccountId",
}
CHARGE_TYPES = {
    "usage": "usage",
    "purchase": "purchase",
    "refund": "refund",
    "tax": "tax",
    "unusedreservation": "usage",
    "unusedsavingsplan": "usage",
    "roundingadjustment": "usage",
}
TOKEN_MARGIN = timedelta(minutes=5)


class AzureCostManagementProvider(CostProvider[AzureCostManagementConfig]):
    """Daily cost from Cost Management, by up to two dimensions or one tag."""

    type_name: ClassVar[str] = "azure_cost_management"
    config_model: ClassVar[type[ProviderConfig]] = AzureCostManagementConfig

    def __init__(self, name: str, config: ProviderConfig, context: ProviderContext):
        super().__init__(name, config, context)
        settings = self.settings
        self.http = HttpClient(
            name,
            timeout=settings.timeout.total_seconds(),
            retry=RetryPolicy(retry_after_headers=RETRY_AFTER_HEADERS, max_delay=300.0),
        )
        self._days = RecentDays(cache_path(context, name, config))
        self._token: tuple[str, float] | None = None

    def fetch(self, now: datetime) -> CostData:
        settings = self.settings
        plan = self._days.plan(now, settings.history, settings.settlement_lag, UTC)
        frames = [self._query_days(first, last, now) for first, last in _chunks(plan, settings)]
        fresh = pd.concat(frames, ignore_index=True) if frames else empty_cost_frame()
        return self._days.cost_data(plan, normalize_frame(fresh), sources=len(frames))

    def _query_days(self, first: date, last: date, now: datetime) -> pd.DataFrame:
        settings = self.settings
        url = (
            f"{settings.management_endpoint.rstrip('/')}{settings.scope}"
            f"/providers/Microsoft.CostManagement/query?api-version={settings.api_version}"
        )
        body = self._request_body(first, last)
        frames = []
        while url:
            answer = self.http.post_json(url, json=body, headers=self._auth_header())
            if answer is None:  # HTTP 204: nothing for these days yet
                break
            properties = answer.get("properties") if isinstance(answer, dict) else None
            if not isinstance(properties, dict):
                raise ProviderError(
                    f"provider {self.name}: Cost Management answered without properties"
                )
            frames.append(self._parse(properties, now))
            url = properties.get("nextLink") or ""
            if url and not url.startswith(settings.management_endpoint.rstrip("/") + "/"):
                # The bearer token goes with every page; never send it to another host.
                raise ProviderError(
                    f"provider {self.name}: nextLink points outside management_endpoint"
                )
        return pd.concat(frames, ignore_index=True) if frames else empty_cost_frame()

    def _request_body(self, first: date, last: date) -> dict[str, Any]:
        grouping = [
            {"type": "TagKey", "name": item[4:]}
            if item.startswith("tag:")
            else {"type": "Dimension", "name": item}
            for item in self.settings.group_by
        ]
        return {
            "type": self.settings.cost_type,
            "timeframe": "Custom",
            "timePeriod": {
                "from": f"{first.isoformat()}T00:00:00+00:00",
                "to": f"{last.isoformat()}T23:59:59+00:00",
            },
            "dataset": {
                "granularity": "Daily",
                "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
                "grouping": grouping,
            },
        }

    def _parse(self, properties: dict[str, Any], now: datetime) -> pd.DataFrame:
        columns = properties.get("columns")
        rows = properties.get("rows")
        if not isinstance(columns, list) or not isinstance(rows, list):
            raise ProviderError(f"provider {self.name}: Cost Management answered without rows")
        try:
            names = [str(column["name"]) for column in columns]
            raw = pd.DataFrame(rows, columns=names)
        except (KeyError, TypeError, ValueError):
            raise ProviderError(
                f"provider {self.name}: Cost Management rows do not match their columns"
            ) from None
        if raw.empty:
            return empty_cost_frame()
        cost_column = next((c for c in COST_COLUMNS if c in names), None)
        if cost_column is None or "UsageDate" not in names:
            raise ProviderError(
                f"provider {self.name}: Cost Management answer lacks a cost or UsageDate column; "
                f"it has {', '.join(names)}"
            )
        days = _usage_dates(raw["UsageDate"])
        cost = pd.to_numeric(raw[cost_column], errors="coerce")
        if days.isna().any() or cost.isna().any():
            raise ProviderError(
                f"provider {self.name}: Cost Management rows with a bad UsageDate or cost"
            )
        if "Currency" in names:
            currency = raw["Currency"]
        elif cost_column.endswith("USD"):
            currency = pd.Series("USD", index=raw.index)
        else:
            currency = pd.Series(self.context.currency, index=raw.index)
        starts, ends = day_bounds(days.dt.date, UTC, now)
        frame = pd.DataFrame({"start": starts, "end": ends, "cost": cost, "currency": currency})
        frame["charge_category"] = "usage"
        frame["ProviderName"] = "Microsoft"
        for item in self.settings.group_by:
            if item.startswith("tag:"):
                frame[f"tags.{item[4:]}"] = raw["TagValue"] if "TagValue" in names else ""
            elif item == "ChargeType" and item in names:
                category = raw[item].astype(str).str.lower().map(CHARGE_TYPES)
                frame["charge_category"] = category.where(category.notna(), "usage")
            elif item in names:
                frame[DIMENSIONS.get(item, f"x_{item}")] = raw[item]
        return frame

    def _auth_header(self) -> dict[str, str]:
        if self._token is None or time.time() >= self._token[1]:
            self._token = self._new_token()
        return {"Authorization": f"Bearer {self._token[0]}"}

    def _new_token(self) -> tuple[str, float]:
        settings = self.settings
        scope = f"{settings.management_endpoint.rstrip('/')}/.default"
        if settings.auth == "azure_identity":
            return _identity_token(self.name, scope)
        secret = read_secret(
            settings.client_secret,
            settings.client_secret_file,
            self.context.base_dir,
            f"provider {self.name}: client_secret_file",
        )
        url = f"{settings.authority_host.rstrip('/')}/{settings.tenant_id}/oauth2/v2.0/token"
        try:
            answer = self.http.post_json(
                url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": settings.client_id,
                    "client_secret": secret,
                    "scope": scope,
                },
            )
        except ProviderError as error:
            raise ProviderError(
                f"{error}; check tenant_id, client_id and the client secret of the app registration"
            ) from None
        if not isinstance(answer, dict) or not answer.get("access_token"):
            raise ProviderError(f"provider {self.name}: the token endpoint gave no access_token")
        lifetime = float(answer.get("expires_in") or 3600)
        expiry = time.time() + max(0.0, lifetime - TOKEN_MARGIN.total_seconds())
        return str(answer["access_token"]), expiry


def _usage_dates(values: pd.Series) -> pd.Series:
    """UsageDate as dates: an integer yyyymmdd, or an ISO date-time in some API versions."""
    numbers = pd.to_numeric(values, errors="coerce").astype("Int64").astype(str)
    days = pd.to_datetime(numbers, format="%Y%m%d", errors="coerce")
    text = values.astype(str).str.slice(0, 10)
    return days.fillna(pd.to_datetime(text, format="%Y-%m-%d", errors="coerce"))


def _chunks(plan: ReadPlan, settings: AzureCostManagementConfig) -> list[tuple[date, date]]:
    """Inclusive day ranges of at most ``max_days_per_query`` days covering the plan."""
    first = plan.since.date()
    end = plan.until.date()  # exclusive
    chunks = []
    while first < end:
        last = min(end, first + timedelta(days=settings.max_days_per_query)) - timedelta(days=1)
        chunks.append((first, last))
        first = last + timedelta(days=1)
    return chunks


def _identity_token(provider: str, scope: str) -> tuple[str, float]:
    """A token from azure-identity (managed identity, workload identity, environment...)."""
    try:
        from azure.core.exceptions import ClientAuthenticationError
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise ProviderError(
            f"provider {provider}: auth azure_identity needs azure-identity: "
            "pip install 'budget-exporter[azure]'"
        ) from None
    try:
        token = DefaultAzureCredential().get_token(scope)
    except ClientAuthenticationError:
        raise ProviderError(
            f"provider {provider}: azure-identity found no usable credential: configure a "
            "managed identity or the AZURE_* environment variables"
        ) from None
    return token.token, float(token.expires_on) - TOKEN_MARGIN.total_seconds()
