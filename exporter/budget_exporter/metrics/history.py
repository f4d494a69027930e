"""Snapshots of past moments -> one OpenMetrics text with timestamps, for TSDB backfilling.

``promtool tsdb create-blocks-from openmetrics`` turns the text into blocks that Prometheus
(and Mimir or Thanos, which take such blocks) serve as if the exporter had been scraped then.
OpenMetrics wants each family's samples together and each series' samples in time order, so
samples are gathered per family and series across all the snapshots and written at the end.

Only what the cost and incident data say is history: the budget and SLO families. The
exporter's own state (provider health, build, evaluation time) described a process that was
not running then, and is left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TextIO

from prometheus_client.core import Metric
from prometheus_client.utils import floatToGoString

from ..evaluation.snapshot import Snapshot
from .anomaly import anomaly_families
from .budgets import budget_families, currency_families
from .forecast import forecast_families
from .insights import insights_families
from .slo import slo_families


def history_families(snapshot: Snapshot) -> Iterator[Metric]:
    """The families of a snapshot that describe the budgets and SLOs, not the exporter."""
    # No provider series in history: every budget's data-as-of time goes out on its own.
    yield from budget_families(snapshot, with_providers=False)
    yield from forecast_families(snapshot)
    yield from anomaly_families(snapshot)
    yield from insights_families(snapshot)
    yield from currency_families(snapshot)
    yield from slo_families(snapshot)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _series(name: str, labels: dict[str, str]) -> str:
    if not labels:
        return name
    pairs = ",".join(f'{key}="{_escape(value)}"' for key, value in sorted(labels.items()))
    return f"{name}{{{pairs}}}"


@dataclass
class _Family:
    kind: str
    help: str
    # series text -> (timestamp, value) in the order they were added (time order)
    samples: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


class HistoryWriter:
    """Gathers the samples of snapshots taken at increasing moments."""

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}
        self.snapshots = 0
        self.samples = 0

    def add(self, snapshot: Snapshot) -> None:
        """Add a snapshot's history families, stamped with its ``taken_at``."""
        stamp = snapshot.taken_at.timestamp()
        self.snapshots += 1
        for metric in history_families(snapshot):
            family = self._families.setdefault(
                metric.name, _Family(metric.type, metric.documentation)
            )
            for sample in metric.samples:
                key = _series(sample.name, sample.labels)
                family.samples.setdefault(key, []).append((stamp, float(sample.value)))
                self.samples += 1

    def write(self, out: TextIO) -> None:
        """The OpenMetrics text: one block per family, series in time order, ``# EOF`` last."""
        for name, family in self._families.items():
            if not family.samples:
                continue
            out.write(f"# HELP {name} {_escape(family.help)}\n# TYPE {name} {family.kind}\n")
            for series, points in family.samples.items():
                for stamp, value in points:
                    out.write(f"{series} {floatToGoString(value)} {stamp:.3f}\n")
        out.write("# EOF\n")
