"""AWS Cost Explorer (``GetCostAndUsage``, daily, UTC): paid per request, so fetched sparingly.

Each refresh round asks only for the days that can still change: days Cost Explorer marks
``Estimated``, days missing from the cache, and the last ``settlement_lag``; final days come from
a cache file that survives restarts. Rounds are at least ``min_interval`` apart and never take
the month's requests beyond ``monthly_request_budget`` (see request_budget.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from ...model.bad_rows import BadRows
from ...model.costs import CostData
from ...model.errors import ProviderError
from ...model.metric_family import FamilySpec, ProviderMetric
from ..base import CostProvider, ProviderConfig, ProviderContext
from ..support.api_metrics import API_COST, API_REQUESTS
from ..support.atomic import atomic_write
from ..support.aws_client import aws_error, make_client
from ..support.request_budget import BudgetExhausted, LedgerFile, month_end, round_wait
from .aws_ce_config import FORECAST_METRICS, AwsCostExplorerConfig
from .aws_ce_results import Day, GroupKey, column_name, day_range, days_frame, parse_results

log = logging.getLogger(__name__)

REQUEST_PRICE_USD = 0.01
CACHE_VERSION = 1
# A runaway pagination (a filter that explodes into millions of groups) stops here.
MAX_PAGES = 200


API_REQUESTS_MONTH = FamilySpec(
    "budget_exporter_provider_api_requests_month",
    "Paid API requests the provider has made in the current UTC month.",
    "provider",
)
API_REQUESTS_MONTH_LIMIT = FamilySpec(
    "budget_exporter_provider_api_requests_month_limit",
    "Monthly request budget the provider never exceeds.",
    "provider",
)
PROVIDER_FORECAST = FamilySpec(
    "budget_exporter_provider_forecast_spend",
    "The billing provider's own forecast of spend for the whole period "
    "(actual days so far plus its forecast), in currency.",
    "provider",
    ("period", "bound", "currency"),
)


class AwsCostExplorerProvider(CostProvider[AwsCostExplorerConfig]):
    """Daily costs from Cost Explorer, cached on disk, within a monthly request budget."""

    type_name: ClassVar[str] = "aws_cost_explorer"
    config_model: ClassVar[type[ProviderConfig]] = AwsCostExplorerConfig
    families: ClassVar[tuple[FamilySpec, ...]] = (
        API_REQUESTS,
        API_COST,
        API_REQUESTS_MONTH,
        API_REQUESTS_MONTH_LIMIT,
        PROVIDER_FORECAST,
    )

    def __init__(self, name: str, config: ProviderConfig, context: ProviderContext):
        super().__init__(name, config, context)
        folder = self._cache_folder()
        self._days_path = folder / f"{name}.days.json" if folder else None
        self._ledger_path = folder / f"{name}.requests.json" if folder else None
        self._ledger: LedgerFile | None = None
        self._days: dict[date, Day] | None = None
        self._forecast: dict[str, Any] | None = None
        self._bad = BadRows()
        self._client: Any = None
        self.groups = self._groups()
        self.query_id = self._query_id()

    def client_factory(self) -> Any:
        """A Cost Explorer client; tests replace this with a stubbed client."""
        settings = self.settings
        return make_client(
            self.name,
            "ce",
            region=settings.region,
            profile=settings.profile,
            endpoint_url=settings.endpoint_url,
            timeout=settings.timeout.total_seconds(),
        )

    def fetch(self, now: datetime) -> CostData:
        settings = self.settings
        ledger = self._ledger_file()
        days = self._cached_days()
        today = now.astimezone(UTC).date()
        first = today - timedelta(days=math.ceil(settings.history / timedelta(days=1)) - 1)
        for day in [d for d in days if d < first]:
            del days[day]
        if (
            self._forecast is not None
            and self._forecast.get("month") != today.replace(day=1).isoformat()
        ):
            self._forecast = None
        wait = round_wait(
            ledger.ledger,
            now,
            settings.min_interval,
            settings.monthly_request_budget,
            has_data=bool(days),
        )
        if wait.delay > timedelta(0):
            if wait.exhausted or not days:
                raise ProviderError(
                    f"provider {self.name}: not calling Cost Explorer: {wait.reason}"
                    + ("" if days else " (no cached data yet)")
                )
            log.info(
                "provider %s: serving cached days (%s; next call in %s)",
                self.name,
                wait.reason,
                wait.delay,
            )
        else:
            try:
                self._round(now, self._refetch_from(days, first, today), today)
            except ProviderError:
                # Failed rounds back off on their own clock, so a broken setup costs a few
                # requests a day, not one per refresh.
                ledger.ledger.failures += 1
                ledger.ledger.marks["failure"] = now
                ledger.save()
                raise
            if settings.forecast:
                self._maybe_forecast(now, today)
        return self._data(days)

    def metrics(self) -> tuple[ProviderMetric, ...]:
        try:
            # Loaded here too, so counts show right after a restart, before the first round.
            ledger = self._ledger_file().ledger
        except ProviderError:
            ledger = None
        samples: list[ProviderMetric] = []
        if ledger is not None:
            for operation, count in sorted(ledger.requests.items()):
                samples.append(ProviderMetric(API_REQUESTS, count, (("operation", operation),)))
            samples += [
                ProviderMetric(API_COST, round(ledger.total * REQUEST_PRICE_USD, 2)),
                ProviderMetric(API_REQUESTS_MONTH, ledger.month_requests),
                ProviderMetric(API_REQUESTS_MONTH_LIMIT, self.settings.monthly_request_budget),
            ]
        forecast = self._forecast
        if forecast is not None:
            for bound in ("mean", "lower", "upper"):
                labels = (("period", "month"), ("bound", bound), ("currency", forecast["unit"]))
                samples.append(ProviderMetric(PROVIDER_FORECAST, forecast[bound], labels))
        return tuple(samples)

    # -- cache -------------------------------------------------------------------------------

    def _cache_folder(self) -> Path | None:
        configured = self.settings.cache_dir
        if configured:
            folder = Path(self.context.base_dir, configured).expanduser()
        elif self.context.cache_dir:
            folder = Path(self.context.cache_dir)
        else:
            log.warning(
                "provider %s: no state_dir or cache_dir: fetched days and request counts are kept "
                "in memory only and reset on restart",
                self.name,
            )
            return None
        return folder / "aws_cost_explorer"

    def _query_id(self) -> str:
        settings = self.settings
        query = {
            "metric": settings.metric,
            "groups": [(g.type, g.key) for g in self.groups],
            "filter": settings.filter,
        }
        return hashlib.sha256(json.dumps(query, sort_keys=True).encode()).hexdigest()[:16]

    def _groups(self) -> tuple[GroupKey, ...]:
        groups = [
            GroupKey(g.type, g.key, column_name(g.type, g.key)) for g in self.settings.group_by
        ]
        has_record_type = any(g.type == "DIMENSION" and g.key == "RECORD_TYPE" for g in groups)
        if self.settings.split_record_types and len(groups) < 2 and not has_record_type:
            groups.append(
                GroupKey("DIMENSION", "RECORD_TYPE", column_name("DIMENSION", "RECORD_TYPE"))
            )
        return tuple(groups)

    def _ledger_file(self) -> LedgerFile:
        if self._ledger is None:
            self._ledger = LedgerFile(self._ledger_path, self.name)
        return self._ledger

    def _cached_days(self) -> dict[date, Day]:
        if self._days is not None:
            return self._days
        self._days = {}
        if self._days_path is None or not self._days_path.exists():
            return self._days
        try:
            record = json.loads(self._days_path.read_text(encoding="utf-8"))
            if record.get("version") == CACHE_VERSION and record.get("query") == self.query_id:
                self._days = {
                    date.fromisoformat(day): Day(bool(entry["estimated"]), list(entry["rows"]))
                    for day, entry in record["days"].items()
                }
                self._forecast = record.get("forecast")
        except (OSError, ValueError, KeyError, TypeError) as error:
            # Dropping the cache costs a few paid requests; trusting a damaged one costs accuracy.
            log.warning(
                "provider %s: ignoring unreadable cache %s: %s", self.name, self._days_path, error
            )
        return self._days

    def _save_days(self) -> None:
        if self._days_path is None or self._days is None:
            return
        record = {
            "version": CACHE_VERSION,
            "query": self.query_id,
            "days": {
                day.isoformat(): {"estimated": entry.estimated, "rows": entry.rows}
                for day, entry in sorted(self._days.items())
            },
            "forecast": self._forecast,
        }
        atomic_write(self._days_path, json.dumps(record, separators=(",", ":")).encode())

    # -- requests ------------------------------------------------------------------------------

    def _refetch_from(self, days: dict[date, Day], first: date, today: date) -> date:
        """The first day that can still change: estimated, missing, or within the lag."""
        lag_days = math.ceil(self.settings.settlement_lag / timedelta(days=1))
        start = today - timedelta(days=lag_days)
        for day in day_range(first, start):
            if day not in days or days[day].estimated:
                return day
        return max(start, first)

    def _client_or_new(self) -> Any:
        if self._client is None:
            self._client = self.client_factory()
        return self._client

    def _call(self, operation: str, now: datetime, **params: Any) -> Any:
        """One paid request, counted before it is sent."""
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.validate import validate_parameters

        client = self._client_or_new()
        method = "get_cost_and_usage" if operation == "GetCostAndUsage" else "get_cost_forecast"
        shape = client.meta.service_model.operation_model(operation).input_shape
        try:
            # A request botocore would reject is never sent, so it must not be counted either.
            validate_parameters(params, shape)
        except BotoCoreError as error:
            raise aws_error(self.name, operation, error) from None
        self._ledger_file().charge(operation, now, self.settings.monthly_request_budget)
        try:
            return getattr(client, method)(**params)
        except (BotoCoreError, ClientError) as error:
            raise aws_error(self.name, operation, error, f"ce:{operation}") from None

    def _round(self, now: datetime, start: date, today: date) -> None:
        """Fetch ``[start, today]`` page by page; replace those days only if all pages came."""
        settings = self.settings
        params: dict[str, Any] = {
            "TimePeriod": {
                "Start": start.isoformat(),
                # End is exclusive: tomorrow brings today's partial costs.
                "End": (today + timedelta(days=1)).isoformat(),
            },
            "Granularity": "DAILY",
            "Metrics": [settings.metric],
        }
        if self.groups:
            params["GroupBy"] = [{"Type": g.type, "Key": g.key} for g in self.groups]
        if settings.filter:
            params["Filter"] = settings.filter
        ledger = self._ledger_file()
        results: list[Any] = []
        pages = 0
        while True:
            pages += 1
            response = self._call("GetCostAndUsage", now, **params)
            if not isinstance(response.get("ResultsByTime"), list):
                raise ProviderError(
                    f"provider {self.name}: GetCostAndUsage answered without ResultsByTime"
                )
            results.extend(response["ResultsByTime"])
            token = response.get("NextPageToken")
            if not token:
                break
            if pages >= MAX_PAGES:
                raise ProviderError(
                    f"provider {self.name}: GetCostAndUsage needs more than {MAX_PAGES} pages: "
                    "narrow group_by or filter"
                )
            params["NextPageToken"] = token
        # Only a complete round moves the clock; failures have their own backoff.
        ledger.ledger.last_round = now
        ledger.ledger.last_round_requests = pages
        ledger.ledger.failures = 0
        ledger.save()
        where = f"GetCostAndUsage {start.isoformat()}..{today.isoformat()}"
        fetched, self._bad = parse_results(results, settings.metric, self.groups, where)
        days = self._cached_days()
        for day in day_range(start, today + timedelta(days=1)):
            if day in fetched:
                days[day] = fetched[day]
            else:
                days.pop(day, None)
        self._save_days()

    def _maybe_forecast(self, now: datetime, today: date) -> None:
        """Refresh AWS's own month-end forecast once per ``forecast_interval``."""
        settings = self.settings
        ledger = self._ledger_file()
        last = ledger.ledger.marks.get("forecast")
        if last is not None and now - last < settings.forecast_interval:
            return
        ledger.ledger.marks["forecast"] = now
        params: dict[str, Any] = {
            "TimePeriod": {"Start": today.isoformat(), "End": month_end(now).date().isoformat()},
            "Metric": FORECAST_METRICS[settings.metric],
            "Granularity": "MONTHLY",
            "PredictionIntervalLevel": settings.forecast_prediction_level,
        }
        if settings.filter:
            params["Filter"] = settings.filter
        try:
            response = self._call("GetCostForecast", now, **params)
            self._forecast = self._month_forecast(response, today)
        except (ProviderError, ValueError, KeyError, TypeError) as error:
            level = logging.WARNING if not isinstance(error, BudgetExhausted) else logging.INFO
            log.log(level, "provider %s: no forecast this time: %s", self.name, error)
        ledger.save()
        self._save_days()

    def _month_forecast(self, response: dict[str, Any], today: date) -> dict[str, Any]:
        """Month-end spend: this month's days before today plus AWS's forecast for the rest."""
        results = response["ForecastResultsByTime"]
        total = response.get("Total", {})
        unit = str(total.get("Unit", "USD"))
        month_start = today.replace(day=1)
        actual = sum(
            float(row[-2])
            for day, entry in self._cached_days().items()
            if month_start <= day < today
            for row in entry.rows
            if row[-1] == unit
        )
        forecast: dict[str, Any] = {"month": month_start.isoformat(), "unit": unit}
        fields = {
            "mean": "MeanValue",
            "lower": "PredictionIntervalLowerBound",
            "upper": "PredictionIntervalUpperBound",
        }
        for bound, key in fields.items():
            rest = sum(float(result[key]) for result in results)
            if not math.isfinite(rest):
                raise ValueError(f"{key} is not a finite number")
            forecast[bound] = round(actual + rest, 6)
        return forecast

    # -- result --------------------------------------------------------------------------------

    def _data(self, days: dict[date, Day]) -> CostData:
        frame = days_frame(days, self.groups)
        if not days:
            return CostData(frame=frame, data_end=None, bad_rows=self._bad, sources=0)
        newest = max(days) + timedelta(days=1)
        data_end = datetime(newest.year, newest.month, newest.day, tzinfo=UTC)
        estimated = [day for day, entry in days.items() if entry.estimated]
        settled_day = min(estimated) if estimated else newest
        settled = datetime(settled_day.year, settled_day.month, settled_day.day, tzinfo=UTC)
        return CostData(
            frame=frame,
            data_end=data_end,
            bad_rows=self._bad,
            settled_through=settled,
            sources=1,
        )
