"""Snapshot -> Prometheus metric families, and the text exposition rendered once per snapshot.

Sample of the exposition::

    # HELP budget_utilization_ratio Spend so far in the current period divided by the limit ...
    # TYPE budget_utilization_ratio gauge
    budget_utilization_ratio{budget="platform",team="platform"} 0.41

Cardinality is bounded by the config: one series per budget and fixed label value (windows,
severities), plus breakdowns capped at ``top`` values per dimension and budget, the rest summed
into ``value="other"``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from .. import __version__
from ..evaluation.snapshot import BudgetEntry, Snapshot
from ..money.budgets import ratio_of
from .forecast import forecast_families
from .insights import insights_families
from .slo import slo_families

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _seconds(moment: datetime) -> float:
    return moment.timestamp()


class _Family:
    """A metric family whose samples may carry different label sets (one per budget)."""

    def __init__(self, name: str, documentation: str, kind: str = "gauge"):
        self.metric = Metric(name.removesuffix("_total"), documentation, kind)
        self.sample_name = name

    def add(self, labels: dict[str, str], value: float) -> None:
        self.metric.add_sample(self.sample_name, labels, float(value))


class SnapshotCollector(Collector):
    """Yields the metric families of one snapshot."""

    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        yield from self._budget_families()
        yield from forecast_families(self.snapshot)
        yield from insights_families(self.snapshot)
        yield from slo_families(self.snapshot)
        yield from self._exporter_families()

    def _budget_families(self) -> Iterator[Metric]:
        currency = self.snapshot.currency
        f = {
            "info": _Family(
                "budget_info",
                "Budget metadata: period, provider (empty: all providers), parent budget and the "
                "budget's own labels; always 1. Join on budget to add these labels to queries.",
            ),
            "limit": _Family("budget_limit", "Budget limit for the current period, in currency."),
            "spend": _Family(
                "budget_spend",
                "Spend so far in the current period (credits and refunds lower it), in currency.",
            ),
            "remaining": _Family(
                "budget_remaining",
                "Limit minus spend for the current period, in currency; negative when overspent.",
            ),
            "utilization": _Family(
                "budget_utilization_ratio",
                "Spend so far in the current period divided by the limit (1 = budget used up). "
                "Compare with budget_alert_threshold_ratio.",
            ),
            "elapsed": _Family(
                "budget_period_elapsed_ratio",
                "Share of the current period that has passed (0 at its start, 1 at its end).",
            ),
            "daily": _Family(
                "budget_average_daily_spend",
                "Average spend per day in the current period up to the newest cost data.",
            ),
            "burn": _Family(
                "budget_burn_rate",
                "Spend pace over the window divided by the pace that uses exactly the limit by "
                "period end: 1 = on pace, 2 = twice too fast. window=period is period-to-date.",
            ),
            "exhaustion": _Family(
                "budget_projected_exhaustion_timestamp_seconds",
                "When spend reaches the limit at the method's pace (Unix time); in the past when "
                "already reached, absent when the limit holds this period.",
            ),
            "start": _Family(
                "budget_period_start_timestamp_seconds", "Start of the current budget period."
            ),
            "end": _Family(
                "budget_period_end_timestamp_seconds",
                "End of the current budget period (the budget resets then).",
            ),
            "threshold": _Family(
                "budget_alert_threshold_ratio",
                "Configured alert threshold of each severity as a ratio of the limit; alert "
                "rules compare budget_utilization_ratio against it.",
            ),
            "reached": _Family(
                "budget_threshold_reached",
                "1 when utilization has reached the severity's threshold, else 0.",
            ),
            "as_of": _Family(
                "budget_data_as_of_timestamp_seconds",
                "End of the newest cost data used for this budget; burn-rate windows end here.",
            ),
            "children": _Family(
                "budget_children_limit",
                "Sum of the child budgets' limits, scaled to this budget's period, in currency.",
            ),
            "allocation": _Family(
                "budget_children_allocation_ratio",
                "Children's limits divided by this budget's limit; above 1 the parent is "
                "over-allocated.",
            ),
            "breakdown": _Family(
                "budget_spend_by_dimension",
                "Spend so far in the current period by value of a dimension (top values per "
                'budget, the rest summed into value="other"), in currency.',
            ),
        }
        for entry in self.snapshot.budgets:
            self._add_budget(f, entry, currency)
        for family in f.values():
            yield family.metric

    @staticmethod
    def _add_budget(f: dict[str, _Family], entry: BudgetEntry, currency: str) -> None:
        status = entry.status
        base = {"budget": status.name, **entry.labels}
        money = {**base, "currency": currency}
        f["info"].add(
            {
                **base,
                "period": status.period.kind.value,
                "provider": entry.provider,
                "parent": entry.parent,
            },
            1,
        )
        f["limit"].add(money, status.limit)
        f["spend"].add(money, status.spend)
        f["remaining"].add(money, status.remaining)
        f["utilization"].add(base, status.utilization)
        f["elapsed"].add(base, status.elapsed_ratio)
        f["daily"].add(money, status.average_daily_spend)
        for window, rate in status.burn_rates.items():
            f["burn"].add({**base, "window": window}, rate)
        if status.projected_exhaustion is not None:
            f["exhaustion"].add({**base, "method": "pace"}, _seconds(status.projected_exhaustion))
        if entry.forecast is not None and entry.forecast.exhaustion is not None:
            f["exhaustion"].add({**base, "method": "forecast"}, _seconds(entry.forecast.exhaustion))
        f["start"].add(base, _seconds(status.period.start))
        f["end"].add(base, _seconds(status.period.end))
        f["as_of"].add(base, _seconds(status.as_of))
        for severity, ratio in status.thresholds.items():
            f["threshold"].add({**base, "severity": severity}, ratio)
            f["reached"].add({**base, "severity": severity}, status.threshold_reached(severity))
        if entry.children_limit is not None:
            f["children"].add(money, entry.children_limit)
            f["allocation"].add(base, ratio_of(entry.children_limit, status.limit))
        for dimension, values in status.breakdown.items():
            for value, amount in values:
                f["breakdown"].add({**money, "dimension": dimension, "value": value}, amount)

    def _exporter_families(self) -> Iterator[Metric]:
        f = {
            "up": _Family(
                "budget_exporter_provider_up",
                "1 when the provider's last refresh succeeded; 0 means its last good data is "
                "still served and is getting old (see the error log).",
            ),
            "success": _Family(
                "budget_exporter_provider_last_success_timestamp_seconds",
                "When the provider last refreshed successfully.",
            ),
            "duration": _Family(
                "budget_exporter_provider_refresh_duration_seconds",
                "How long the provider's last refresh took.",
            ),
            "errors": _Family(
                "budget_exporter_provider_errors_total",
                "Failed refreshes of the provider since the exporter started.",
                "counter",
            ),
            "bad": _Family(
                "budget_exporter_provider_bad_rows",
                "Rows rejected or read only in part in the provider's last refresh; the log "
                "names file and line of the first ones.",
            ),
            "rows": _Family(
                "budget_exporter_provider_rows",
                "Data held for the provider: normalized cost rows (one per charge period and "
                "dimensions) or incidents.",
            ),
            "newest": _Family(
                "budget_exporter_provider_data_newest_timestamp_seconds",
                "End of the newest cost data the provider returned; time() minus this is the "
                "data age.",
            ),
            "settled": _Family(
                "budget_exporter_provider_data_settled_timestamp_seconds",
                "Cost data before this time is final; later days are provisional and re-read.",
            ),
            "max_age": _Family(
                "budget_exporter_provider_data_max_age_seconds",
                "Configured max_data_age of the provider: data older than this is stale and "
                "alerts (BudgetExporterDataStale).",
            ),
        }
        for health in self.snapshot.providers:
            labels = {"provider": health.name, "type": health.type}
            f["up"].add(labels, health.up)
            if health.last_success is not None:
                f["success"].add(labels, _seconds(health.last_success))
            f["duration"].add(labels, health.duration_seconds)
            f["errors"].add(labels, health.errors_total)
            f["bad"].add(labels, health.bad_rows)
            f["rows"].add(labels, health.rows)
            if health.data_end is not None:
                f["newest"].add(labels, _seconds(health.data_end))
            if health.settled_through is not None:
                f["settled"].add(labels, _seconds(health.settled_through))
            if health.max_data_age_seconds is not None:
                f["max_age"].add(labels, health.max_data_age_seconds)
        yield from (family.metric for family in f.values())
        yield from _provider_specific_families(self.snapshot)
        build = _Family("budget_exporter_build_info", "Exporter version; always 1.")
        build.add({"version": __version__}, 1)
        yield build.metric
        taken = _Family(
            "budget_exporter_snapshot_timestamp_seconds",
            "When the served numbers were computed; refreshes run on their own schedule.",
        )
        taken.add({}, _seconds(self.snapshot.taken_at))
        yield taken.metric
        evaluation = _Family(
            "budget_exporter_evaluation_duration_seconds",
            "How long computing the served snapshot from cached cost data took.",
        )
        evaluation.add({}, self.snapshot.evaluation_seconds)
        yield evaluation.metric


def _provider_specific_families(snapshot: Snapshot) -> Iterator[Metric]:
    """Samples that only some providers report, grouped into one family per name."""
    families: dict[str, _Family] = {}
    for health in snapshot.providers:
        for sample in health.extra:
            family = families.get(sample.name)
            if family is None:
                family = families[sample.name] = _Family(sample.name, sample.help, sample.kind)
            labels = {"provider": health.name, "type": health.type, **dict(sample.labels)}
            family.add(labels, sample.value)
    yield from (family.metric for family in families.values())


def render(snapshot: Snapshot) -> bytes:
    """The text exposition of a snapshot (Prometheus text format 0.0.4)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry)
