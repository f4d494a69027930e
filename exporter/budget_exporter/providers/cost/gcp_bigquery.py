"""Google Cloud billing: the standard usage cost export table in BigQuery, summed per day in SQL.

Needs the ``gcp`` extra (google-cloud-bigquery), imported only when the provider runs.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pandas as pd

from ...model.costs import CostData, empty_cost_frame
from ...model.costs import normalize as normalize_frame
from ...model.errors import ProviderError
from ..base import CostProvider, ProviderConfig, ProviderContext
from ..support.daily import RecentDays, cache_path, day_bounds
from .gcp_bigquery_config import GcpBigQueryConfig

log = logging.getLogger(__name__)

BIGQUERY_SCOPE = "https://www.googleapis.com/auth/bigquery.readonly"

# cost_type of the standard export; adjustments are corrections such as refunds.
COST_TYPES = {"regular": "usage", "tax": "tax", "adjustment": "refund", "rounding_error": "usage"}

HINTS = {
    401: "the credentials were rejected: check credentials_file or GOOGLE_APPLICATION_CREDENTIALS",
    403: "the credentials lack permission: grant roles/bigquery.jobUser on the query project "
    "and roles/bigquery.dataViewer on the billing export dataset",
    404: "the table or project was not found: check table and project",
}


def build_query(table: str, label_count: int) -> str:
    """The daily aggregation; every value comes in as a query parameter.

    Credits are summed per row in a correlated subquery: a join with UNNEST(credits) would
    repeat the row's cost once per credit. The partition filter starts a day before the usage
    window and stays open: rows arriving late land in newer partitions.
    """
    labels = "".join(
        f",\n    (SELECT l.value FROM UNNEST(labels) AS l WHERE l.key = @label_{i} LIMIT 1)"
        f" AS label_{i}"
        for i in range(label_count)
    )
    label_keys = "".join(f", label_{i}" for i in range(label_count))
    return f"""WITH line_items AS (
  SELECT
    DATE(usage_start_time, @timezone) AS usage_day,
    billing_account_id,
    project.id AS project_id,
    project.name AS project_name,
    service.description AS service,
    invoice.month AS invoice_month,
    cost_type,
    currency,
    cost,
    IFNULL((SELECT SUM(c.amount) FROM UNNEST(credits) AS c), 0) AS credit_amount{labels}
  FROM `{table}`
  WHERE DATE(_PARTITIONTIME) >= @partition_start
    AND usage_start_time >= @usage_start
    AND usage_start_time < @usage_end
)
SELECT
  usage_day, billing_account_id, project_id, project_name, service, invoice_month, cost_type,
  currency{label_keys},
  SUM(cost) AS cost,
  SUM(credit_amount) AS credits
FROM line_items
GROUP BY usage_day, billing_account_id, project_id, project_name, service, invoice_month,
  cost_type, currency{label_keys}"""


class GcpBigQueryProvider(CostProvider[GcpBigQueryConfig]):
    """Daily cost by service, project and labels, net of credits, from the billing export."""

    type_name: ClassVar[str] = "gcp_bigquery"
    config_model: ClassVar[type[ProviderConfig]] = GcpBigQueryConfig
    # First wait between retries of throttled or failed calls, doubled each time.
    retry_initial_delay: ClassVar[float] = 1.0

    def __init__(self, name: str, config: ProviderConfig, context: ProviderContext):
        super().__init__(name, config, context)
        self._days = RecentDays(cache_path(context, name, config))
        self._client: Any = None

    @property
    def zone(self) -> ZoneInfo:
        """Time zone whose days the costs are summed over."""
        return ZoneInfo(self.settings.timezone or self.context.timezone)

    def fetch(self, now: datetime) -> CostData:
        settings = self.settings
        plan = self._days.plan(now, settings.history, settings.settlement_lag, self.zone)
        rows = self._query(plan.since, min(plan.until, now))
        fresh = self._to_frame(rows, now)
        return self._days.cost_data(plan, fresh)

    def _query(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        bigquery, exceptions, auth_exceptions = _sdk(self.name)
        settings = self.settings
        parameters = [
            bigquery.ScalarQueryParameter("timezone", "STRING", self.zone.key),
            bigquery.ScalarQueryParameter("usage_start", "TIMESTAMP", since),
            bigquery.ScalarQueryParameter("usage_end", "TIMESTAMP", until),
            bigquery.ScalarQueryParameter(
                "partition_start",
                "DATE",
                (since.astimezone(ZoneInfo("UTC")) - timedelta(days=1)).date(),
            ),
            *(
                bigquery.ScalarQueryParameter(f"label_{i}", "STRING", key)
                for i, key in enumerate(settings.labels)
            ),
        ]
        job_config = bigquery.QueryJobConfig(
            query_parameters=parameters,
            use_legacy_sql=False,
            maximum_bytes_billed=settings.maximum_bytes_billed,
        )
        timeout = settings.timeout.total_seconds()
        retry = bigquery.DEFAULT_RETRY.with_delay(
            initial=self.retry_initial_delay, maximum=60.0
        ).with_timeout(timeout)
        try:
            client = self._bigquery_client(bigquery)
            # job_retry=None: re-running a whole job would bill its scanned bytes again; the
            # request-level retry already covers throttling and server errors.
            result = client.query_and_wait(
                build_query(settings.table, len(settings.labels)),
                job_config=job_config,
                location=settings.location,
                retry=retry,
                job_retry=None,
                api_timeout=timeout,
                wait_timeout=timeout,
            )
            return [dict(row.items()) for row in result]
        except exceptions.GoogleAPICallError as error:
            raise self._api_error(error) from None
        except auth_exceptions.DefaultCredentialsError:
            raise ProviderError(
                f"provider {self.name}: no Google credentials found: set credentials_file or "
                "GOOGLE_APPLICATION_CREDENTIALS to a service account key file"
            ) from None
        except auth_exceptions.GoogleAuthError as error:
            raise ProviderError(
                f"provider {self.name}: Google authentication failed ({type(error).__name__}): "
                "check the service account key in credentials_file"
            ) from None
        except exceptions.RetryError:
            raise ProviderError(
                f"provider {self.name}: BigQuery kept failing for {timeout:.0f}s; "
                "try again later or raise timeout"
            ) from None
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ProviderError(
                f"provider {self.name}: BigQuery answered with a malformed payload "
                f"({type(error).__name__})"
            ) from None

    def _bigquery_client(self, bigquery: Any) -> Any:
        if self._client is not None:
            return self._client
        settings = self.settings
        # Domain-scoped projects ("example.com:billing") hold dots themselves.
        project = settings.project or settings.table.rsplit(".", 2)[0]
        options: dict[str, Any] = {"project": project}
        if settings.api_endpoint:
            from google.api_core.client_options import ClientOptions

            options["client_options"] = ClientOptions(api_endpoint=settings.api_endpoint)
        if settings.anonymous:
            from google.auth.credentials import AnonymousCredentials

            options["credentials"] = AnonymousCredentials()
        elif settings.credentials_file is not None:
            from google.oauth2 import service_account

            path = Path(self.context.base_dir) / settings.credentials_file
            try:
                options["credentials"] = service_account.Credentials.from_service_account_file(
                    str(path), scopes=[BIGQUERY_SCOPE]
                )
            except OSError as error:
                raise ProviderError(
                    f"provider {self.name}: cannot read credentials_file {path}: {error.strerror}"
                ) from None
            except (ValueError, KeyError):
                raise ProviderError(
                    f"provider {self.name}: credentials_file {path} is not a service account "
                    "key file (JSON with client_email, private_key and token_uri)"
                ) from None
        self._client = bigquery.Client(**options)
        return self._client

    def _api_error(self, error: Any) -> ProviderError:
        code = int(getattr(error, "code", 0) or 0)
        hint = HINTS.get(code)
        if hint is None:
            # Query errors (400) carry BigQuery's own explanation, which names no secret.
            hint = str(getattr(error, "message", "") or type(error).__name__)[:300]
        return ProviderError(f"provider {self.name}: BigQuery answered HTTP {code}: {hint}")

    def _to_frame(self, rows: list[dict[str, Any]], now: datetime) -> pd.DataFrame:
        labels = self.settings.labels
        if not rows:
            return empty_cost_frame()
        raw = pd.DataFrame(rows)
        expected = {"usage_day", "currency", "cost", "credits", "cost_type"}
        missing = expected - set(raw.columns)
        if missing:
            raise ProviderError(
                f"provider {self.name}: query result lacks column(s) {', '.join(sorted(missing))}"
            )
        starts, ends = day_bounds(raw["usage_day"], self.zone, now)
        dimensions = {
            "ProviderName": "Google Cloud",
            "BillingAccountId": raw.get("billing_account_id"),
            "SubAccountId": raw.get("project_id"),
            "SubAccountName": raw.get("project_name"),
            "ServiceName": raw.get("service"),
            "x_InvoiceMonth": raw.get("invoice_month"),
        }
        for i, key in enumerate(labels):
            dimensions[f"tags.{key}"] = raw.get(f"label_{i}")
        base = pd.DataFrame({"start": starts, "end": ends, "currency": raw["currency"]})
        for column, values in dimensions.items():
            base[column] = values
        category = raw["cost_type"].astype("object").str.lower().map(COST_TYPES)
        charges = base.assign(
            cost=pd.to_numeric(raw["cost"], errors="coerce"),
            charge_category=category.where(category.notna(), "usage"),
        )
        credits = base.assign(
            cost=pd.to_numeric(raw["credits"], errors="coerce"), charge_category="credit"
        )
        credits = credits[credits["cost"] != 0]
        frame = pd.concat([charges, credits], ignore_index=True)
        if frame["cost"].isna().any() or frame["currency"].isna().any():
            raise ProviderError(
                f"provider {self.name}: query result has rows without cost or currency"
            )
        return normalize_frame(frame)


def _sdk(provider: str) -> tuple[Any, Any, Any]:
    """The BigQuery client library, imported on first use."""
    try:
        from google.api_core import exceptions
        from google.auth import exceptions as auth_exceptions
        from google.cloud import bigquery
    except ImportError:
        raise ProviderError(
            f"provider {provider}: google-cloud-bigquery is not installed: "
            "pip install 'budget-exporter[gcp]'"
        ) from None
    return bigquery, exceptions, auth_exceptions
