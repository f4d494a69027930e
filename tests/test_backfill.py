"""``backfill`` gives history from day one: 60 days evaluated from files in hand, written as
OpenMetrics, turned into blocks by the real promtool, loaded into the real Prometheus, and
every past day's figures there equal to what ``once --at`` that day says."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from budget_exporter.cli.commands import main
from budget_exporter.config.loader import load_config
from budget_exporter.metrics.exposition import render
from budget_exporter.service.refresh import Refresher
from conftest import free_port, require_binary, wait_for_http

FIRST = date(2026, 8, 1)
START = datetime(2026, 8, 15, tzinfo=UTC)
END = datetime(2026, 10, 14, tzinfo=UTC)  # 60 days after START
CHECKED = [datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 9, 20, tzinfo=UTC), END]

CONFIG = """
timezone: UTC
currency: USD
providers:
  billing: {type: csv, paths: [costs.csv], dimensions: [team], settlement_lag: 1d}
  oncall: {type: incidents_file, paths: [incidents.yaml], service: api}
budgets:
  - {name: web, amount: 3000, period: monthly, provider: billing, filter: {team: web},
     labels: {team: web}}
  - {name: data-weekly, amount: 500, period: weekly, provider: billing, filter: {team: data}}
slos:
  - {name: api, objective: 99.5, window: 30d, provider: oncall}
"""


def _costs() -> str:
    lines = ["date,cost,team"]
    for offset in range((END.date() - FIRST).days + 1):
        day = FIRST + timedelta(days=offset)
        # Weekends cheaper, a climb in September, so burn rates and pace differ day to day.
        web = 80.0 + (offset % 7 >= 5) * -30.0 + max(0, offset - 31) * 1.5
        lines += [f"{day.isoformat()},{web:.2f},web", f"{day.isoformat()},{60 + offset % 3},data"]
    return "\n".join(lines) + "\n"


INCIDENTS = """
- {id: INC-1, start: "2026-08-20T10:00:00Z", duration: 90m, title: database failover}
- {id: INC-2, start: "2026-09-18T02:00:00Z", duration: 4h, title: bad deploy, impact: 0.5}
"""


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    require_binary("promtool")
    root = tmp_path_factory.mktemp("backfill")
    (root / "config.yml").write_text(CONFIG, encoding="utf-8")
    (root / "costs.csv").write_text(_costs(), encoding="utf-8")
    (root / "incidents.yaml").write_text(INCIDENTS, encoding="utf-8")
    code = main(
        [
            "backfill",
            "--config.file",
            str(root / "config.yml"),
            "--from",
            START.isoformat(),
            "--to",
            END.isoformat(),
            "--step",
            "1d",
            "--out",
            str(root / "out"),
        ]
    )
    assert code == 0
    return root, root / "out"


def _once(config_file: Path, at: datetime) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    config = load_config(config_file)
    refresher = Refresher(config)
    refresher.refresh(at, list(refresher.providers))
    text = render(refresher.snapshot(at)).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_openmetrics_text_has_one_sample_per_step_and_no_exporter_state(backfilled):
    _, out = backfilled
    text = (out / "backfill.om").read_text(encoding="utf-8")
    assert text.endswith("# EOF\n")
    spend = [line for line in text.splitlines() if line.startswith('budget_spend{budget="web"')]
    assert len(spend) == 61  # every day from START to END
    assert "budget_exporter_provider_up" not in text
    assert "slo_error_budget_remaining_ratio" in text


@pytest.fixture(scope="module")
def prometheus(backfilled) -> Iterator[str]:
    binary = require_binary("prometheus")
    root, out = backfilled
    data = root / "tsdb"
    shutil.copytree(out / "blocks", data)
    (root / "prometheus.yml").write_text(yaml.safe_dump({"global": {"scrape_interval": "1m"}}))
    port = free_port()
    log = open(root / "prometheus.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={data}",
            # Backfilled blocks older than the retention would be deleted at once.
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/-/ready", timeout=60)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _query(url: str, expr: str, at: datetime) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode({"query": expr, "time": str(at.timestamp())})
    with urllib.request.urlopen(f"{url}/api/v1/query?{params}", timeout=10) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    return list(body["data"]["result"])


@pytest.mark.integration
@pytest.mark.parametrize("at", CHECKED, ids=[f"{at:%Y-%m-%d}" for at in CHECKED])
@pytest.mark.parametrize(
    "selector",
    [
        'budget_spend{budget="web"}',
        'budget_burn_rate{budget="web",window="7d"}',
        'budget_utilization_ratio{budget="data-weekly"}',
        'slo_error_budget_remaining_ratio{slo="api"}',
    ],
)
def test_a_past_days_figures_in_prometheus_are_what_once_at_that_day_says(
    backfilled, prometheus, at, selector
):
    root, _ = backfilled
    expected = _once(root / "config.yml", at)
    result = _query(prometheus, selector, at)
    assert len(result) == 1, result
    labels = {k: v for k, v in result[0]["metric"].items()}
    name = labels.pop("__name__")
    assert float(result[0]["value"][1]) == pytest.approx(
        expected[(name, frozenset(labels.items()))], rel=1e-9
    )


@pytest.mark.integration
def test_the_backfilled_range_answers_range_queries_day_by_day(prometheus):
    params = urllib.parse.urlencode(
        {
            "query": 'budget_spend{budget="web"}',
            "start": str(START.timestamp()),
            "end": str(END.timestamp()),
            "step": "86400",
        }
    )
    with urllib.request.urlopen(f"{prometheus}/api/v1/query_range?{params}", timeout=10) as answer:
        body = json.loads(answer.read())
    points = body["data"]["result"][0]["values"]
    assert len(points) == 61
    # Month to date: it grows within a month and starts again on the 1st.
    values = {datetime.fromtimestamp(t, UTC).date(): float(v) for t, v in points}
    assert values[date(2026, 8, 31)] > values[date(2026, 8, 15)]
    assert values[date(2026, 9, 1)] < values[date(2026, 8, 31)]
