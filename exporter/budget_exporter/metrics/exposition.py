"""Snapshot -> the text exposition, rendered once per snapshot and served as bytes.

The families come from the modules beside this one (``budgets``, ``forecast``, ``anomaly``,
``insights``, ``slo``, ``exporter``), each declaring its own; ``catalogue`` lists them all.

Both formats are written here rather than by the client library's generators: those check
and escape every label name of every sample, which at 10,000 budgets (about 200,000 lines)
took two thirds of a render (bench/README.md). The writer reads the families' columns
(``family.Family``) without making a ``Sample`` of each, fills each label set's values into a
pattern made once per set of label names, and writes the sample lines once for both formats,
which differ only in their headers. The output is byte for byte the library's
(tests/test_exposition_writer.py); what the families never hold (timestamps, exemplars,
native histograms, the OpenMetrics-only samples of counters) goes to the library.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import Any

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
from .family import Family
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
    written = write_exposition(SnapshotCollector(snapshot).collect(), openmetrics=False)
    return written if written is not None else generate_latest(_registry(snapshot))


def render_openmetrics(snapshot: Snapshot) -> bytes:
    """The same families in the OpenMetrics text format 1.0.0, for scrapers that prefer it."""
    written = write_exposition(SnapshotCollector(snapshot).collect(), openmetrics=True)
    return written if written is not None else generate_openmetrics(_registry(snapshot))


def render_both(snapshot: Snapshot) -> tuple[bytes, bytes]:
    """Both formats from one build of the families, whose sample lines both formats share:
    the refresher publishes both."""
    text, openmetrics = write_both(SnapshotCollector(snapshot).collect())
    return (
        text if text is not None else generate_latest(_registry(snapshot)),
        openmetrics if openmetrics is not None else generate_openmetrics(_registry(snapshot)),
    )


def write_exposition(metrics: Iterable[Metric], openmetrics: bool) -> bytes | None:
    """The text (or OpenMetrics) exposition of ``metrics``; None when one holds what only the
    client library writes (a timestamp, an exemplar, a native histogram, an OpenMetrics-only
    sample of a counter or gauge histogram)."""
    text, written = write_both(metrics, text=not openmetrics, openmetrics=openmetrics)
    return written if openmetrics else text


def write_both(
    metrics: Iterable[Metric], text: bool = True, openmetrics: bool = True
) -> tuple[bytes | None, bytes | None]:
    """The text and OpenMetrics expositions of ``metrics`` (each None when not asked for, or
    when it holds what only the client library writes), from one writing of their samples."""
    metrics = list(metrics)
    bodies = _Bodies()
    blocks = []
    for metric in metrics:
        block = bodies.of(metric)
        if block is None:
            return None, None
        blocks.append(block)
    return (
        _assembled(metrics, blocks, openmetrics=False) if text and bodies.text_too else None,
        _assembled(metrics, blocks, openmetrics=True) if openmetrics else None,
    )


# The text format's names for OpenMetrics types, and the suffix its family name takes.
_TEXT_TYPES = {
    "counter": ("counter", "_total"),
    "info": ("gauge", "_info"),
    "stateset": ("gauge", ""),
    "gaugehistogram": ("histogram", ""),
    "unknown": ("untyped", ""),
}


def _assembled(metrics: list[Metric], blocks: list[str], openmetrics: bool) -> bytes:
    """Each family's header in the format, then its sample lines (the same in both)."""
    out: list[str] = []
    append = out.append
    for metric, block in zip(metrics, blocks, strict=True):
        name, kind = metric.name, metric.type
        if openmetrics:
            append(f"# HELP {name} {_escape_value(metric.documentation)}\n# TYPE {name} {kind}\n")
            if metric.unit:
                append(f"# UNIT {name} {metric.unit}\n")
        else:
            kind, suffix = _TEXT_TYPES.get(kind, (kind, ""))
            help_text = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
            append(f"# HELP {name}{suffix} {help_text}\n# TYPE {name}{suffix} {kind}\n")
        append(block)
    if openmetrics:
        append("# EOF\n")
    return "".join(out).encode("utf-8")


def _escape_value(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


class _Pairs(dict[tuple[str, str], str]):
    """``name="value"`` of each label pair met, escaped once per writing."""

    def __missing__(self, pair: tuple[str, str]) -> str:
        text = self[pair] = f'{escape_label_name(pair[0])}="{_escape_value(pair[1])}"'
        return text


# A label set's text with ``%s`` for its values, what picks those, the quotes the text holds.
_Shape = tuple[str, Callable[[dict[str, str]], Any], int]


class _Shapes(dict[tuple[str, ...], _Shape]):
    """For each set of label names met (in the order a label set holds them): the text of a
    label set with ``%s`` for its values, what picks those in sorted name order, and how many
    quotes the text holds when no value needs escaping."""

    def __missing__(self, names: tuple[str, ...]) -> _Shape:
        ordered = sorted(names)
        escaped = (escape_label_name(name).replace("%", "%%") for name in ordered)
        pattern = ",".join(f'{name}="%s"' for name in escaped)
        shape = self[names] = "{" + pattern + "} ", itemgetter(*ordered), 2 * len(names)
        return shape


class _GoStrings(dict[float, str]):
    """The library's text of each value it writes otherwise than ``repr`` (from 1e6 on, in
    Go's exponent form; infinities and NaN), worked out once per writing: most are timestamps,
    which budgets of one period share."""

    def __missing__(self, value: float) -> str:
        text = self[value] = floatToGoString(value)
        return text


# Below 1e6 (and above -Inf) the library's text of a float is its repr; -0.0 stays "-0.0".
_REPR_BELOW = 1e6
_MINUS_INF = float("-inf")


class _Bodies:
    """The sample lines of each family, in the form both formats share."""

    def __init__(self) -> None:
        self.pairs = _Pairs()
        self.shapes = _Shapes()
        self.go_strings = _GoStrings()
        # False once a sample is one the text format moves to a family of its own.
        self.text_too = True

    def of(self, metric: Metric) -> str | None:
        """The sample lines of ``metric``; None when one holds what only the library writes."""
        if isinstance(metric, Family):
            return self._lines(metric.sample_name, metric.labels, map(float, metric.values))
        library_only = (metric.name + "_created", metric.name + "_gsum", metric.name + "_gcount")
        samples = metric.samples
        for sample in samples:
            if (
                sample.timestamp is not None
                or sample.exemplar is not None
                or sample.native_histogram is not None
            ):
                return None
            if sample.name in library_only:
                self.text_too = False
        pairs = self.pairs
        return "".join(
            [
                f"{sample.name}{_label_text(sample.labels, pairs)}{self._value(sample.value)}\n"
                for sample in samples
            ]
        )

    def _value(self, value: float) -> str:
        value = float(value)
        return repr(value) if _MINUS_INF < value < _REPR_BELOW else self.go_strings[value]

    def _lines(self, name: str, label_sets: list[dict[str, str]], values: Iterable[float]) -> str:
        pairs, shapes = self.pairs, self.shapes
        texts = []
        for labels in label_sets:
            if labels:
                pattern, pick, quotes = shapes[tuple(labels)]
                text = pattern % pick(labels)
                # Values with a backslash, a newline or a quote are escaped pair by pair.
                if "\\" in text or "\n" in text or text.count('"') != quotes:
                    text = _label_text(labels, pairs)
            else:
                text = " "
            texts.append(text)
        go = self.go_strings
        strings = [repr(v) if _MINUS_INF < v < _REPR_BELOW else go[v] for v in values]
        return "".join(
            [f"{name}{text}{value}\n" for text, value in zip(texts, strings, strict=True)]
        )


def _label_text(labels: dict[str, str], pairs: _Pairs) -> str:
    """``{a="1",b="2"} `` (sorted by name, as the library writes them), or a space alone."""
    if not labels:
        return " "
    return "{" + ",".join(map(pairs.__getitem__, sorted(labels.items()))) + "} "
