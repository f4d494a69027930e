"""Databricks: billable usage priced at list prices, from system tables via SQL statements.

``system.billing.usage`` has quantities but no cost, so it is joined with
``system.billing.list_prices`` on SKU and on the price valid when the usage happened, and
summed per day, SKU and custom tags by a SQL warehouse (Statement Execution API).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pandas as pd

from ...model.bad_rows import BadRow, BadRows
from ...model.costs import CostData, empty_cost_frame
from ...model.costs import normalize as normalize_frame
from ...model.errors import ProviderError
from ..base import CostProvider, ProviderConfig, ProviderContext
from ..support.daily import RecentDays, cache_path, day_bounds
from ..support.http import HttpClient, RetryPolicy
from .databricks_config import DatabricksConfig

UTC = ZoneInfo("UTC")  # usage_date is a UTC day
RUNNING_STATES = frozenset({"PENDING", "RUNNING"})
PERMISSIONS_HINT = (
    "the service principal needs CAN USE on the warehouse, USE CATALOG on system, "
    "USE SCHEMA on system.billing and SELECT on system.billing.usage and "
    "system.billing.list_prices"
)


def build_statement(tag_count: int) -> str:
    """The daily aggregation; dates and tag keys come in as named parameters.

    Each usage row takes the list price valid when it started. RETRACTION rows carry negative
    quantities that cancel an earlier row and RESTATEMENT rows carry its corrected value, so
    summing every record type gives the current truth; record_type stays in the grouping so
    corrections remain visible.
    """
    tags = "".join(f",\n  u.custom_tags[:tag_{i}] AS tag_{i}" for i in range(tag_count))
    return f"""SELECT
  u.usage_date AS usage_date,
  u.account_id AS account_id,
  u.workspace_id AS workspace_id,
  u.sku_name AS sku_name,
  u.billing_origin_product AS product,
  u.record_type AS record_type,
  p.currency_code AS currency_code{tags},
  SUM(u.usage_quantity) AS usage_quantity,
  SUM(u.usage_quantity * COALESCE(p.pricing.effective_list.default, p.pricing.default)) AS cost
FROM system.billing.usage AS u
LEFT JOIN system.billing.list_prices AS p
  ON u.sku_name = p.sku_name
  AND u.cloud = p.cloud
  AND u.usage_unit = p.usage_unit
  AND u.usage_start_time >= p.price_start_time
  AND (p.price_end_time IS NULL OR u.usage_start_time < p.price_end_time)
WHERE u.usage_date >= :start_date AND u.usage_date < :end_date
GROUP BY ALL"""


class DatabricksProvider(CostProvider[DatabricksConfig]):
    """Daily Databricks cost at list price by workspace, SKU, product and custom tags."""

    type_name: ClassVar[str] = "databricks"
    config_model: ClassVar[type[ProviderConfig]] = DatabricksConfig

    def __init__(self, name: str, config: ProviderConfig, context: ProviderContext):
        super().__init__(name, config, context)
        self.http = HttpClient(
            name, timeout=self.settings.timeout.total_seconds(), retry=RetryPolicy()
        )
        self.sleep: Callable[[float], None] = time.sleep
        self._days = RecentDays(cache_path(context, name, config))
        self._token: tuple[str, float] | None = None

    @property
    def base_url(self) -> str:
        """The workspace URL without a trailing slash."""
        return self.settings.host.rstrip("/")

    def fetch(self, now: datetime) -> CostData:
        settings = self.settings
        plan = self._days.plan(now, settings.history, settings.settlement_lag, UTC)
        columns, rows = self._run(
            build_statement(len(settings.tags)),
            [
                {"name": "start_date", "value": plan.since.date().isoformat(), "type": "DATE"},
                {"name": "end_date", "value": plan.until.date().isoformat(), "type": "DATE"},
                *(
                    {"name": f"tag_{i}", "value": key, "type": "STRING"}
                    for i, key in enumerate(settings.tags)
                ),
            ],
        )
        fresh, bad = self._to_frame(columns, rows, now)
        return self._days.cost_data(plan, fresh, bad)

    def _run(self, statement: str, parameters: list[dict[str, str]]) -> tuple[list[str], list]:
        """Execute a statement, wait for it, and return its column names and every row."""
        settings = self.settings
        answer = self._call(
            "POST",
            "/api/2.0/sql/statements",
            json={
                "warehouse_id": settings.warehouse_id,
                "statement": statement,
                "parameters": parameters,
                "wait_timeout": "30s",
                "on_wait_timeout": "CONTINUE",
                "format": "JSON_ARRAY",
                "disposition": "INLINE",
            },
        )
        statement_id = str(answer.get("statement_id") or "")
        deadline = time.monotonic() + settings.statement_timeout.total_seconds()
        while _state(answer) in RUNNING_STATES:
            if time.monotonic() >= deadline:
                self._call("POST", f"/api/2.0/sql/statements/{statement_id}/cancel")
                raise ProviderError(
                    f"provider {self.name}: the statement did not finish within "
                    f"statement_timeout ({settings.statement_timeout}); it was cancelled"
                )
            self.sleep(settings.poll_interval.total_seconds())
            answer = self._call("GET", f"/api/2.0/sql/statements/{statement_id}")
        state = _state(answer)
        if state != "SUCCEEDED":
            # FAILED comes with HTTP 200: the reason is only in status.error.
            error = (answer.get("status") or {}).get("error") or {}
            reason = str(error.get("message") or error.get("error_code") or "no reason given")
            hint = f"; {PERMISSIONS_HINT}" if "PERMISSION" in reason.upper() else ""
            raise ProviderError(
                f"provider {self.name}: statement {state or 'without state'}: {reason[:300]}{hint}"
            )
        manifest = answer.get("manifest") or {}
        if manifest.get("truncated"):
            raise ProviderError(
                f"provider {self.name}: the result was truncated; shorten history or use fewer tags"
            )
        try:
            columns = [str(c["name"]) for c in manifest["schema"]["columns"]]
        except (KeyError, TypeError):
            raise ProviderError(
                f"provider {self.name}: the statement result has no schema"
            ) from None
        rows: list = []
        chunk = answer.get("result") or {}
        while True:
            data = chunk.get("data_array") or []
            if not isinstance(data, list) or any(
                not isinstance(r, list) or len(r) != len(columns) for r in data
            ):
                raise ProviderError(
                    f"provider {self.name}: result rows do not match the schema's columns"
                )
            rows.extend(data)
            link = chunk.get("next_chunk_internal_link")
            if not link:
                break
            if not str(link).startswith("/api/2.0/sql/statements/"):
                raise ProviderError(f"provider {self.name}: unexpected next_chunk_internal_link")
            chunk = self._call("GET", str(link))
        return columns, rows

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.http.request(
            method, f"{self.base_url}{path}", headers=self._auth_header(), **kwargs
        )
        try:
            answer = response.json()
        except ValueError:
            raise ProviderError(
                f"provider {self.name}: {method} {path} answered with a body that is not JSON"
            ) from None
        if not isinstance(answer, dict):
            raise ProviderError(f"provider {self.name}: {method} {path} answered a non-object")
        return answer

    def _to_frame(
        self, columns: list[str], rows: list, now: datetime
    ) -> tuple[pd.DataFrame, BadRows]:
        if not rows:
            return empty_cost_frame(), BadRows()
        raw = pd.DataFrame(rows, columns=columns, dtype="object")
        needed = {"usage_date", "cost", "currency_code", "sku_name"}
        if not needed <= set(columns):
            raise ProviderError(
                f"provider {self.name}: result lacks {', '.join(sorted(needed - set(columns)))}"
            )
        days = pd.to_datetime(raw["usage_date"], format="%Y-%m-%d", errors="coerce")
        cost = pd.to_numeric(raw["cost"], errors="coerce")
        unpriced = cost.isna() | raw["currency_code"].isna()
        bad = BadRows(
            int(unpriced.sum()),
            tuple(
                BadRow(self.name, int(i) + 1, f"no list price for SKU {raw['sku_name'][i]}")
                for i in raw.index[unpriced][:20]
            ),
        )
        undated = days.isna() & ~unpriced
        bad = bad + BadRows(
            int(undated.sum()),
            tuple(
                BadRow(self.name, int(i) + 1, "usage_date is not a date")
                for i in raw.index[undated][:20]
            ),
        )
        keep = ~unpriced & ~undated
        raw, days, cost = raw[keep], days[keep], cost[keep]
        starts, ends = day_bounds(days.dt.date, UTC, now)
        frame = pd.DataFrame(
            {
                "start": starts,
                "end": ends,
                "cost": cost.to_numpy(),
                "currency": raw["currency_code"].to_numpy(),
                "charge_category": "usage",
                "ProviderName": "Databricks",
                "BillingAccountId": raw.get("account_id", pd.Series(dtype=object)).to_numpy(),
                "SubAccountId": raw.get("workspace_id", pd.Series(dtype=object)).to_numpy(),
                "SkuId": raw["sku_name"].to_numpy(),
                "ServiceName": raw.get("product", pd.Series(dtype=object)).to_numpy(),
            }
        )
        for i, key in enumerate(self.settings.tags):
            frame[f"tags.{key}"] = raw[f"tag_{i}"].to_numpy() if f"tag_{i}" in raw else ""
        return normalize_frame(frame), bad

    def _auth_header(self) -> dict[str, str]:
        settings = self.settings
        if settings.client_id is None:
            token = self.secret(settings.token, settings.token_file, "token_file")
            return {"Authorization": f"Bearer {token}"}
        if self._token is None or time.time() >= self._token[1]:
            self._token = self._oauth_token()
        return {"Authorization": f"Bearer {self._token[0]}"}

    def _oauth_token(self) -> tuple[str, float]:
        """OAuth machine-to-machine token of a service principal (client credentials)."""
        settings = self.settings
        secret = self.secret(
            settings.client_secret, settings.client_secret_file, "client_secret_file"
        )
        try:
            answer = self.http.post_json(
                f"{self.base_url}/oidc/v1/token",
                data={"grant_type": "client_credentials", "scope": "all-apis"},
                auth=(settings.client_id or "", secret or ""),
            )
        except ProviderError as error:
            raise ProviderError(f"{error}; check client_id and the client secret") from None
        if not isinstance(answer, dict) or not answer.get("access_token"):
            raise ProviderError(f"provider {self.name}: the token endpoint gave no access_token")
        lifetime = float(answer.get("expires_in") or 3600)
        return str(answer["access_token"]), time.time() + max(0.0, lifetime - 300)


def _state(answer: dict[str, Any]) -> str:
    status = answer.get("status")
    return str(status.get("state") or "") if isinstance(status, dict) else ""
