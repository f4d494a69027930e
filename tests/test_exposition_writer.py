"""The exposition is written by the project, byte for byte as the client library writes it.

Both formats are compared with prometheus_client's own generators on real snapshots (the demo,
the shared FOCUS sample, a config whose labels need escaping), on the project's families filled
with every kind of value and label set the writer treats apart, and on the library's families
built to hold every case the writer handles itself or hands back to the library.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector, CollectorRegistry

from budget_exporter.config.loader import load_config, parse_config
from budget_exporter.config.schema import Config
from budget_exporter.evaluation.snapshot import Snapshot
from budget_exporter.metrics.exposition import (
    SnapshotCollector,
    render,
    render_both,
    render_openmetrics,
    write_both,
    write_exposition,
)
from budget_exporter.metrics.family import exposed, new_families
from budget_exporter.model.metric_family import FamilySpec
from budget_exporter.service.refresh import Refresher
from conftest import ROOT

AT = datetime.fromisoformat("2026-11-12T12:00:00+00:00")


class _Fixed(Collector):
    def __init__(self, metrics: list[Metric]):
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return iter(self.metrics)


def _registry(collector: Collector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def _snapshot(config: Config) -> Snapshot:
    refresher = Refresher(config)
    refresher.refresh(AT)
    return refresher.snapshot(AT)


ESCAPED = """
providers:
  bill:
    type: csv
    paths: [costs.csv]
    dimensions: {ServiceName: service}
budgets:
  - name: quoted
    amount: 100
    period: monthly
    labels: {team: 'a "quoted" \\ team', note: "two\\nlines", city: Zürich}
"""


def _escaped_config(tmp_path) -> Config:
    rows = ["date,cost,service", "2026-11-01,10,com\\pute", '2026-11-02,5,"st""orage"']
    (tmp_path / "costs.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return parse_config(ESCAPED, "config.yml", str(tmp_path))


@pytest.mark.parametrize("case", ["demo", "focus", "escaped"])
def test_both_formats_equal_the_client_librarys_on_real_snapshots(tmp_path, case):
    if case == "demo":
        config = load_config(None)
    elif case == "focus":
        config = load_config(ROOT / "tests" / "fixtures" / "focus.yml")
    else:
        config = _escaped_config(tmp_path)
    snapshot = _snapshot(config)
    library = _registry(SnapshotCollector(snapshot))
    text, openmetrics = render(snapshot), render_openmetrics(snapshot)
    assert text == generate_latest(library)
    assert openmetrics == generate_openmetrics(library)
    assert render_both(snapshot) == (text, openmetrics)
    if case == "escaped":
        assert b'team="a \\"quoted\\" \\\\ team"' in text
        assert b'note="two\\nlines"' in text
        assert 'city="Zürich"'.encode() in text


EDGE = FamilySpec("edge_seconds", 'Edges, a "quote", a back\\slash.', "exporter", ("a", "b"))
COUNT = FamilySpec("edge_requests_total", "A counter.", "exporter", ("a", "b"), kind="counter")
SPARE = FamilySpec("edge_spare", "Off unless asked for.", "exporter", optional="spare")
# Each value, and how the library writes it: repr below 1e6, Go's exponent form from there on.
VALUES = [
    (0.41, "0.41"),
    (999999.9999999999, "999999.9999999999"),
    (1e6, "1e+06"),
    (1234567.5, "1.2345675e+06"),
    (1763467200.0, "1.7634672e+09"),
    (1e16, "1e+16"),
    (1.5e17, "1.5e+17"),
    (-12345678.0, "-12345678.0"),
    (-0.0, "-0.0"),
    (5e-324, "5e-324"),
    (float("inf"), "+Inf"),
    (float("-inf"), "-Inf"),
    (float("nan"), "NaN"),
    (True, "1.0"),
    (3, "3.0"),
]


def test_the_projects_families_are_written_byte_for_byte_as_the_library_writes_them():
    f = new_families((EDGE, COUNT, SPARE), enabled=frozenset())
    shared = {"a": "1", "b": "x"}
    for position, (value, _) in enumerate(VALUES):
        f[EDGE].add({"b": f"v{position}", "a": "1"}, value)
    f[EDGE].add(shared, 2.5)
    f[COUNT].add(shared, 7)
    # The same names in the other order; values a label set's text must escape or keep as is.
    f[COUNT].add({"b": 'q"uote', "a": "2"}, 1)
    f[COUNT].add({"a": "back\\slash", "b": "x"}, 2)
    f[COUNT].add({"a": "new\nline", "b": "x"}, 2)
    f[COUNT].add({"a": "{0} {}", "b": "}"}, 3)
    f[COUNT].add({"a": 'alone "'}, 4)
    f[COUNT].add({"b": "100%s"}, 4)
    f[COUNT].add({}, 5)
    f[SPARE].add({}, 1)
    metrics = list(exposed(f))
    library = _registry(_Fixed(metrics))

    text, openmetrics = write_both(metrics)
    assert text == write_exposition(metrics, openmetrics=False) == generate_latest(library)
    assert openmetrics == write_exposition(metrics, openmetrics=True)
    assert openmetrics == generate_openmetrics(library)
    lines = text.decode().splitlines()
    for position, (_, written) in enumerate(VALUES):
        assert f'edge_seconds{{a="1",b="v{position}"}} {written}' in lines
    assert 'edge_requests_total{a="2",b="q\\"uote"} 1.0' in lines
    assert 'edge_requests_total{a="back\\\\slash",b="x"} 2.0' in lines
    assert 'edge_requests_total{a="new\\nline",b="x"} 2.0' in lines
    assert 'edge_requests_total{a="{0} {}",b="}"} 3.0' in lines
    assert 'edge_requests_total{a="alone \\""} 4.0' in lines
    assert 'edge_requests_total{b="100%s"} 4.0' in lines
    assert "edge_requests_total 5.0" in lines
    assert "edge_spare" not in text.decode()
    assert library.get_sample_value("edge_requests_total", shared) == 7.0


def _built() -> list[Metric]:
    gauge = GaugeMetricFamily(
        "odd_help", 'Help with a back\\slash, a "quote" and\na newline.', labels=["a", "b"]
    )
    gauge.add_metric(["x", 'y"\\\n'], 1.5)
    gauge.add_metric(["", "z"], float("inf"))
    gauge.add_metric(["nan", "z"], float("nan"))
    counter = CounterMetricFamily("requests", "Requests served.", labels=["code"])
    counter.add_metric(["200"], 7)
    empty = GaugeMetricFamily("nothing_yet", "A family with no sample.")
    plain = GaugeMetricFamily("plain", "No labels.", value=-0.0)
    return [gauge, counter, empty, plain]


def test_both_formats_equal_the_client_librarys_on_every_case_the_writer_handles():
    metrics = _built()
    library = _registry(_Fixed(metrics))
    assert write_exposition(metrics, openmetrics=False) == generate_latest(library)
    assert write_exposition(metrics, openmetrics=True) == generate_openmetrics(library)


def test_what_only_the_library_writes_is_handed_back_to_it():
    stamped = GaugeMetricFamily("stamped", "A sample with a timestamp.", labels=["a"])
    stamped.add_metric(["x"], 1.0, timestamp=1700000000.5)
    created = CounterMetricFamily("made", "A counter with its creation time.", created=1700000000)
    created.add_metric([], 3, created=1700000000)
    assert write_exposition([stamped], openmetrics=False) is None
    assert write_exposition([stamped], openmetrics=True) is None
    assert write_exposition([created], openmetrics=False) is None
