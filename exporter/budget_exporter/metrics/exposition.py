"""Snapshot -> the text exposition, rendered once per snapshot and served as bytes.

The families come from the modules beside this one (``budgets``, ``forecast``, ``anomaly``,
``insights``, ``slo``, ``exporter``), each declaring its own; ``catalogue`` lists them all.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector, CollectorRegistry

from ..evaluation.snapshot import Snapshot
from .anomaly import anomaly_families
from .budgets import budget_families, currency_families
from .exporter import exporter_families
from .forecast import forecast_families
from .insights import insights_families
from .slo import slo_families

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


class SnapshotCollector(Collector):
    """Yields the metric families of one snapshot."""

    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        yield from budget_families(self.snapshot)
        yield from forecast_families(self.snapshot)
        yield from anomaly_families(self.snapshot)
        yield from insights_families(self.snapshot)
        yield from currency_families(self.snapshot)
        yield from slo_families(self.snapshot)
        yield from exporter_families(self.snapshot)


def _registry(snapshot: Snapshot) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return registry


def render(snapshot: Snapshot) -> bytes:
    """The text exposition of a snapshot (Prometheus text format 0.0.4)."""
    return generate_latest(_registry(snapshot))


def render_openmetrics(snapshot: Snapshot) -> bytes:
    """The same families in the OpenMetrics text format 1.0.0, for scrapers that prefer it."""
    return generate_openmetrics(_registry(snapshot))
