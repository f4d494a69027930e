"""Label values from data (service names, tags) and from the config reach the exposition escaped:
quotes, backslashes, newlines and bytes that are not UTF-8 come out as valid text format that
promtool accepts and that parses back to the very same values."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from prometheus_client.parser import text_string_to_metric_families

from budget_exporter.config.loader import parse_config
from budget_exporter.metrics.exposition import render
from budget_exporter.service.refresh import Refresher
from test_server import promtool_lint

NOW = datetime(2024, 9, 20, tzinfo=UTC)
# What the billing export holds, as bytes, and the label value each must become.
SERVICES = {
    b'say "hi"': 'say "hi"',
    b"back\\slash\\": "back\\slash\\",
    b"new\nline": "new\nline",
    b"tab\tand\rreturn": "tab\tand\rreturn",
    "ünïcødé ✓".encode(): "ünïcødé ✓",
    b"caf\xe9 in latin-1": "caf\ufffd in latin-1",
    b'}\n# TYPE evil gauge\nevil{x="': '}\n# TYPE evil gauge\nevil{x="',
}
CONFIG = """
providers:
  billing: {type: csv, paths: [costs.parquet], dimensions: {ServiceName: service}}
budgets:
  - name: shop
    amount: 1000
    period: monthly
    labels: {owner: "Zoë \\"ops\\" \\\\ team\\nline two"}
    breakdown: {dimensions: [ServiceName], top: 20}
"""


def test_label_values_with_quotes_backslashes_newlines_and_bad_bytes_round_trip(
    tmp_path: Path,
) -> None:
    names = list(SERVICES)
    table = pa.table(
        {
            "date": ["2024-09-01"] * len(names),
            "cost": [str(position + 1) for position in range(len(names))],
            "service": pa.array(names, type=pa.binary()),
        }
    )
    pq.write_table(table, tmp_path / "costs.parquet")
    refresher = Refresher(parse_config(CONFIG, str(tmp_path / "c.yml"), str(tmp_path)))
    refresher.refresh(NOW)
    assert refresher.health["billing"].up, refresher.health["billing"].last_error
    exposition = render(refresher.snapshot(NOW))

    assert promtool_lint(exposition) == ""
    families = {
        family.name: family for family in text_string_to_metric_families(exposition.decode())
    }
    assert "evil" not in families
    by_service = {
        sample.labels["value"]: sample.value
        for sample in families["budget_spend_by_dimension"].samples
    }
    expected = {label: float(position + 1) for position, label in enumerate(SERVICES.values())}
    assert by_service == expected
    (limit,) = families["budget_limit"].samples
    assert limit.labels["owner"] == 'Zoë "ops" \\ team\nline two'
