"""The exporter's own families: provider health, provider-specific samples, build and snapshot.

Sample of the exposition::

    # HELP budget_exporter_provider_up 1 when the provider's last refresh succeeded; 0 means ...
    # TYPE budget_exporter_provider_up gauge
    budget_exporter_provider_up{provider="billing",type="focus"} 1.0
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from .. import __version__
from ..evaluation.snapshot import Snapshot
from ..model.metric_family import FamilySpec
from .family import Family, exposed, new_families

PROVIDER_UP = FamilySpec(
    "budget_exporter_provider_up",
    "1 when the provider's last refresh succeeded; 0 means its last good data is "
    "still served and is getting old (see the error log).",
    "provider",
)
PROVIDER_LAST_SUCCESS = FamilySpec(
    "budget_exporter_provider_last_success_timestamp_seconds",
    "When the provider last refreshed successfully.",
    "provider",
)
PROVIDER_REFRESH_DURATION = FamilySpec(
    "budget_exporter_provider_refresh_duration_seconds",
    "How long the provider's last refresh took.",
    "provider",
)
PROVIDER_ERRORS = FamilySpec(
    "budget_exporter_provider_errors_total",
    "Failed refreshes of the provider since the exporter started.",
    "provider",
    kind="counter",
)
PROVIDER_BAD_ROWS = FamilySpec(
    "budget_exporter_provider_bad_rows",
    "Rows rejected or read only in part in the provider's last refresh; the log "
    "names file and line of the first ones.",
    "provider",
)
PROVIDER_ROWS = FamilySpec(
    "budget_exporter_provider_rows",
    "Data held for the provider: normalized cost rows (one per charge period and "
    "dimensions) or incidents.",
    "provider",
)
PROVIDER_DATA_NEWEST = FamilySpec(
    "budget_exporter_provider_data_newest_timestamp_seconds",
    "End of the newest cost data the provider returned; time() minus this is the data age.",
    "provider",
)
PROVIDER_DATA_SETTLED = FamilySpec(
    "budget_exporter_provider_data_settled_timestamp_seconds",
    "Cost data before this time is final; later days are provisional and re-read.",
    "provider",
)
PROVIDER_DATA_MAX_AGE = FamilySpec(
    "budget_exporter_provider_data_max_age_seconds",
    "Configured max_data_age of the provider: data older than this is stale and "
    "alerts (BudgetExporterDataStale).",
    "provider",
)
PROVIDER_SPEND = FamilySpec(
    "budget_exporter_provider_spend",
    "The provider's whole bill so far today, this month and this (fiscal) year, in currency, "
    "whatever the budgets: budgets may overlap, so their sum is no total; this is.",
    "provider",
    ("period", "currency"),
)
PROVIDER_SUSPECT = FamilySpec(
    "budget_exporter_provider_suspect",
    "1 when the provider's last answer shrank sharply on settled days (a truncated file or a "
    "partial answer): refused, the last good data stays served.",
    "provider",
)
PROVIDER_FAMILIES = (
    PROVIDER_UP,
    PROVIDER_LAST_SUCCESS,
    PROVIDER_REFRESH_DURATION,
    PROVIDER_ERRORS,
    PROVIDER_BAD_ROWS,
    PROVIDER_ROWS,
    PROVIDER_DATA_NEWEST,
    PROVIDER_DATA_SETTLED,
    PROVIDER_DATA_MAX_AGE,
    PROVIDER_SPEND,
    PROVIDER_SUSPECT,
)

BUILD_INFO = FamilySpec(
    "budget_exporter_build_info", "Exporter version; always 1.", "exporter", ("version",)
)
SNAPSHOT_TIMESTAMP = FamilySpec(
    "budget_exporter_snapshot_timestamp_seconds",
    "When the served numbers were computed; refreshes run on their own schedule.",
    "exporter",
)
EVALUATION_DURATION = FamilySpec(
    "budget_exporter_evaluation_duration_seconds",
    "How long computing the served snapshot from cached cost data took.",
    "exporter",
)
FORECASTS_WAITING = FamilySpec(
    "budget_exporter_forecasts_waiting",
    "Budgets served without a forecast because their model is not fit yet (fits per "
    "evaluation are capped); the log names them.",
    "exporter",
)
EXPORTER_FAMILIES = (BUILD_INFO, SNAPSHOT_TIMESTAMP, EVALUATION_DURATION, FORECASTS_WAITING)

# Provider-specific families (API requests made, their cost...) are declared by the providers
# that report them, as ``model.costs.ProviderMetric`` samples, and rendered after these.
FAMILIES = PROVIDER_FAMILIES + EXPORTER_FAMILIES


def exporter_families(snapshot: Snapshot) -> Iterator[Metric]:
    """Provider health, provider-specific samples, then the exporter's own families."""
    f = new_families(PROVIDER_FAMILIES)
    for health in snapshot.providers:
        labels = {"provider": health.name, "type": health.type}
        f[PROVIDER_UP].add(labels, health.up)
        if health.last_success is not None:
            f[PROVIDER_LAST_SUCCESS].add(labels, health.last_success.timestamp())
        f[PROVIDER_REFRESH_DURATION].add(labels, health.duration_seconds)
        f[PROVIDER_ERRORS].add(labels, health.errors_total)
        f[PROVIDER_BAD_ROWS].add(labels, health.bad_rows)
        f[PROVIDER_ROWS].add(labels, health.rows)
        if health.data_end is not None:
            f[PROVIDER_DATA_NEWEST].add(labels, health.data_end.timestamp())
        if health.settled_through is not None:
            f[PROVIDER_DATA_SETTLED].add(labels, health.settled_through.timestamp())
        if health.max_data_age_seconds is not None:
            f[PROVIDER_DATA_MAX_AGE].add(labels, health.max_data_age_seconds)
        for period, amount in snapshot.provider_spend.get(health.name, {}).items():
            money = {**labels, "period": period, "currency": snapshot.currency}
            f[PROVIDER_SPEND].add(money, amount)
        f[PROVIDER_SUSPECT].add(labels, health.suspect)
    yield from exposed(f)
    yield from _provider_specific_families(snapshot)
    own = new_families(EXPORTER_FAMILIES)
    own[BUILD_INFO].add({"version": __version__}, 1)
    own[SNAPSHOT_TIMESTAMP].add({}, snapshot.taken_at.timestamp())
    own[EVALUATION_DURATION].add({}, snapshot.evaluation_seconds)
    own[FORECASTS_WAITING].add({}, len(snapshot.forecasts_waiting))
    yield from exposed(own)


def _provider_specific_families(snapshot: Snapshot) -> Iterator[Metric]:
    """Samples that only some providers report, grouped into one family per name."""
    families: dict[str, Family] = {}
    for health in snapshot.providers:
        for sample in health.extra:
            family = families.get(sample.name)
            if family is None:
                family = families[sample.name] = Family(sample.spec)
            labels = {"provider": health.name, "type": health.type, **dict(sample.labels)}
            family.add(labels, sample.value)
    yield from exposed(families)
