"""SLO metric families: exact samples from a known incident file, and promtool on the demo."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from budget_exporter.config.loader import load_config, parse_config
from budget_exporter.metrics.exposition import render
from budget_exporter.service.refresh import Refresher
from conftest import require_binary

NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)
INCIDENTS = """\
- {id: A, service: api, title: failover, start: "2026-03-14T10:00:00Z", duration: 21m36s}
- {id: B, service: api, title: bad deploy, start: "2026-03-15T11:30:00Z", duration: 5m,
   category: deployment}
- {id: C, service: api, title: open, start: "2026-03-15T11:58:00Z"}
- {id: D, service: api, title: patching, start: "2026-03-13T00:00:00Z", duration: 2h,
   category: maintenance}
"""
CONFIG = """\
providers:
  log: {type: incidents_file, paths: [incidents.yaml]}
slos:
  - name: api
    objective: 99.9
    provider: log
    exclude_categories: [maintenance]
    labels: {team: platform, tier: "1"}
    horizons: [7d, 30d]
"""


def exposition(tmp_path: Path) -> dict[str, list[tuple[dict[str, str], float]]]:
    (tmp_path / "incidents.yaml").write_text(INCIDENTS)
    refresher = Refresher(parse_config(CONFIG, base_dir=str(tmp_path)))
    refresher.refresh(NOW)
    text = render(refresher.snapshot(NOW)).decode()
    return {
        family.name: [(sample.labels, sample.value) for sample in family.samples]
        for family in text_string_to_metric_families(text)
        if family.name.startswith("slo_")
    }


BASE = {"slo": "api", "team": "platform", "tier": "1"}
# 21.6 min + 5 min deployment + 2 min still open; maintenance excluded.
CONSUMED = (21.6 + 5 + 2) * 60


@pytest.mark.parametrize(
    ("name", "labels", "value"),
    [
        ("slo_objective_ratio", BASE, 0.999),
        ("slo_error_budget_seconds", BASE, 2592.0),
        ("slo_error_budget_consumed_seconds", BASE, CONSUMED),
        ("slo_error_budget_remaining_seconds", BASE, 2592.0 - CONSUMED),
        ("slo_error_budget_remaining_ratio", BASE, 1 - CONSUMED / 2592.0),
        ("slo_burn_rate", {**BASE, "window": "5m"}, (2 / 5) / 0.001),
        ("slo_burn_rate", {**BASE, "window": "1h"}, (7 / 60) / 0.001),
        ("slo_burn_rate", {**BASE, "window": "period"}, (CONSUMED / (30 * 86400)) / 0.001),
        ("slo_error_budget_consumed_by_category_seconds", {**BASE, "category": "incident"}, 1416),
        ("slo_error_budget_consumed_by_category_seconds", {**BASE, "category": "deployment"}, 300),
        ("slo_open_incidents", BASE, 1),
        ("slo_window_incidents", BASE, 3),
        ("slo_info", {**BASE, "provider": "log", "period": "30d"}, 1),
        (
            "slo_window_start_timestamp_seconds",
            BASE,
            (NOW - timedelta(days=30)).timestamp(),
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_slo_series_carry_the_slo_and_its_labels(tmp_path, name, labels, value):
    families = exposition(tmp_path)
    found = {tuple(sorted(s.items())): v for s, v in families[name]}
    assert found[tuple(sorted(labels.items()))] == pytest.approx(value)


def test_projection_and_probability_series_use_their_fixed_label_values(tmp_path):
    families = exposition(tmp_path)
    methods = {
        s["method"] for s, _ in families["slo_error_budget_projected_exhaustion_timestamp_seconds"]
    }
    assert methods <= {"burn_rate", "linear_regression", "average"}
    assert "burn_rate" in methods  # an open incident is burning now
    horizons = {s["horizon"]: v for s, v in families["slo_error_budget_exhaustion_probability"]}
    assert set(horizons) == {"7d", "30d"}
    assert 0.0 <= horizons["7d"] <= horizons["30d"] <= 1.0


def test_the_slo_info_help_names_the_label_it_carries(tmp_path):
    (tmp_path / "incidents.yaml").write_text(INCIDENTS)
    refresher = Refresher(parse_config(CONFIG, base_dir=str(tmp_path)))
    refresher.refresh(NOW)
    text = render(refresher.snapshot(NOW)).decode()
    (family,) = [f for f in text_string_to_metric_families(text) if f.name == "slo_info"]
    assert "period" in family.samples[0].labels
    assert "period (30d rolling" in family.documentation
    assert "window" not in family.documentation


def test_no_slo_families_are_exposed_without_slos(tmp_path):
    (tmp_path / "incidents.yaml").write_text(INCIDENTS)
    config = parse_config(
        "providers:\n  log: {type: incidents_file, paths: [incidents.yaml]}\n",
        base_dir=str(tmp_path),
    )
    refresher = Refresher(config)
    refresher.refresh(NOW)
    assert b"slo_" not in render(refresher.snapshot(NOW))


def test_the_demo_exposition_passes_promtool_and_shows_a_fast_burning_slo():
    promtool = require_binary("promtool")
    refresher = Refresher(load_config(None))
    refresher.refresh(NOW)
    text = render(refresher.snapshot(NOW))
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, check=False
    )
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    rates = [
        sample.value
        for family in text_string_to_metric_families(text.decode())
        if family.name == "slo_burn_rate"
        for sample in family.samples
        if sample.labels["window"] == "1h"
    ]
    assert max(rates) > 14.4  # the fast-burn page threshold of the 1h window
