"""Snapshot -> the text exposition, rendered once per snapshot and served as bytes.

The families come from the modules beside this one (``budgets``, ``forecast``, ``anomaly``,
``insights``, ``slo``, ``exporter``), each declaring its own; ``catalogue`` lists them all.

Both formats are written here rather than by the client library's generators: those check
and escape every label name of every sample, which at 10,000 budgets (about 200,000 lines)
took two thirds of a render (bench/README.md). The output is byte for byte theirs
(tests/test_exposition_writer.py); what the families never hold (timestamps, exemplars,
native histograms, the OpenMetrics-only samples of counters) goes to the library.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import escape_label_name
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

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
    return _written(list(SnapshotCollector(snapshot).collect()), snapshot, openmetrics=False)


def render_openmetrics(snapshot: Snapshot) -> bytes:
    """The same families in the OpenMetrics text format 1.0.0, for scrapers that prefer it."""
    return _written(list(SnapshotCollector(snapshot).collect()), snapshot, openmetrics=True)


def render_both(snapshot: Snapshot) -> tuple[bytes, bytes]:
    """Both formats from one build of the families: the refresher publishes both."""
    metrics = list(SnapshotCollector(snapshot).collect())
    return (
        _written(metrics, snapshot, openmetrics=False),
        _written(metrics, snapshot, openmetrics=True),
    )


def _written(metrics: list[Metric], snapshot: Snapshot, openmetrics: bool) -> bytes:
    written = write_exposition(metrics, openmetrics)
    if written is not None:
        return written
    library = generate_openmetrics if openmetrics else generate_latest
    return library(_registry(snapshot))


# The text format's names for OpenMetrics types, and the suffix its family name takes.
_TEXT_TYPES = {
    "counter": ("counter", "_total"),
    "info": ("gauge", "_info"),
    "stateset": ("gauge", ""),
    "gaugehistogram": ("histogram", ""),
    "unknown": ("untyped", ""),
}


def _escape_value(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def write_exposition(metrics: Iterable[Metric], openmetrics: bool) -> bytes | None:
    """The text (or OpenMetrics) exposition of ``metrics``; None when one holds what only the
    client library writes (a timestamp, an exemplar, a native histogram, an OpenMetrics-only
    sample of a counter or gauge histogram)."""
    out: list[str] = []
    append = out.append
    names: dict[str, str] = {}
    values: dict[str, str] = {}
    for metric in metrics:
        name, kind = metric.name, metric.type
        if openmetrics:
            text = metric.documentation
            append(f"# HELP {name} {_escape_value(text)}\n# TYPE {name} {kind}\n")
            if metric.unit:
                append(f"# UNIT {name} {metric.unit}\n")
        else:
            kind, suffix = _TEXT_TYPES.get(kind, (kind, ""))
            help_text = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
            append(f"# HELP {name}{suffix} {help_text}\n# TYPE {name}{suffix} {kind}\n")
        library_only = (name + "_created", name + "_gsum", name + "_gcount")
        for sample in metric.samples:
            if (
                sample.timestamp is not None
                or sample.exemplar is not None
                or sample.native_histogram is not None
                or (not openmetrics and sample.name in library_only)
            ):
                return None
            labels = sample.labels
            if labels:
                parts = []
                for key, value in sorted(labels.items()):
                    label = names.get(key)
                    if label is None:
                        label = names[key] = escape_label_name(key)
                    escaped = values.get(value)
                    if escaped is None:
                        escaped = values[value] = _escape_value(value)
                    parts.append(f'{label}="{escaped}"')
                append(f"{sample.name}{{{','.join(parts)}}} {floatToGoString(sample.value)}\n")
            else:
                append(f"{sample.name} {floatToGoString(sample.value)}\n")
    if openmetrics:
        append("# EOF\n")
    return "".join(out).encode("utf-8")
