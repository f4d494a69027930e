"""Faults of a billing API (timeouts, 5xx, 429, garbage, truncated and empty answers): the last
good data stays served, the provider's up goes 0 while its errors and data age rise, and the
other providers and budgets carry on as before."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from budget_exporter.config.loader import parse_config
from budget_exporter.metrics.exposition import SnapshotCollector
from budget_exporter.service.refresh import Refresher
from fakeapi import Recorded, Reply, running
from test_opencost import ALLOCATION, allocation

T1 = datetime(2026, 11, 20, 12, tzinfo=UTC)
T2 = T1 + timedelta(hours=2)

CONFIG = """
refresh_interval: 1h
providers:
  k8s: {{type: opencost, url: "{url}", aggregate: namespace, history: 7d, timeout: 1s}}
  onprem: {{type: csv, paths: ["costs.csv"]}}
budgets:
  - {{name: cluster, amount: 100, period: monthly, provider: k8s}}
  - {{name: servers, amount: 100, period: monthly, provider: onprem}}
"""


def good_answer() -> Reply:
    """Two days of allocations: 3 + 5 = 8 spent this month."""
    return Reply(
        {
            "code": 200,
            "data": [
                {"payments": allocation("payments", "2026-11-18", 3.0, "payments")},
                {"payments": allocation("payments", "2026-11-19", 5.0, "payments")},
            ],
        }
    )


def slow(request: Recorded) -> Reply:
    time.sleep(1.5)  # longer than the provider's 1s timeout
    return good_answer()


FAULTS: dict[str, list[Any]] = {
    "a timeout": [slow, slow],
    "HTTP 503": [Reply({"error": "unavailable"}, 503)] * 2,
    "HTTP 429 with Retry-After": [Reply({"error": "slow down"}, 429, {"Retry-After": "0"})] * 2,
    "garbage instead of JSON": [Reply("<html>gateway error</html>")],
    "a truncated body": [Reply(b'{"code": 200, "data": [{"payments": {"name": "pay')],
    "an empty answer for days that had data": [Reply({"code": 200, "data": []})],
    "JSON of the wrong shape": [Reply({"code": 200, "data": "nothing"})],
}


def sample(refresher: Refresher, now: datetime, name: str, labels: dict[str, str]) -> float | None:
    """One sample of the exposition at ``now``."""
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(refresher.snapshot(now)))
    return registry.get_sample_value(name, labels)


@pytest.mark.parametrize("fault", list(FAULTS), ids=[f"after {name}" for name in FAULTS])
def test_a_failing_api_keeps_its_last_good_data_and_reports_itself_down(
    tmp_path: Path, fault: str
) -> None:
    (tmp_path / "costs.csv").write_text("date,cost\n2026-11-02,40\n")
    with running() as api:
        config = parse_config(CONFIG.format(url=api.url), str(tmp_path / "c.yml"), str(tmp_path))
        refresher = Refresher(config)
        http = refresher.providers["k8s"].http  # type: ignore[union-attr]
        http.retry.attempts = 2
        http.retry.sleep = lambda seconds: None
        api.add("GET", ALLOCATION, good_answer())
        refresher.refresh(T1)
        k8s = {"provider": "k8s", "type": "opencost"}
        onprem = {"provider": "onprem", "type": "csv"}
        spend = {"budget": "cluster", "currency": "USD"}
        assert sample(refresher, T1, "budget_spend", spend) == 8.0
        newest = sample(
            refresher, T1, "budget_exporter_provider_data_newest_timestamp_seconds", k8s
        )

        api.add("GET", ALLOCATION, *FAULTS[fault])
        refresher.refresh(T2, ["k8s", "onprem"])

    health = refresher.health["k8s"]
    assert not health.up
    assert health.last_error and health.last_error.startswith("provider k8s:")
    assert sample(refresher, T2, "budget_exporter_provider_up", k8s) == 0.0
    assert sample(refresher, T2, "budget_exporter_provider_errors_total", k8s) == 1.0
    # The newest data stays where it was while the clock moves on: its age grows.
    age_metric = "budget_exporter_provider_data_newest_timestamp_seconds"
    assert sample(refresher, T2, age_metric, k8s) == newest
    assert sample(
        refresher, T2, "budget_exporter_provider_last_success_timestamp_seconds", k8s
    ) == (T1.timestamp())
    # The budget keeps its known spend, not zero.
    assert sample(refresher, T2, "budget_spend", spend) == 8.0
    # The other provider and its budget are untouched.
    assert sample(refresher, T2, "budget_exporter_provider_up", onprem) == 1.0
    assert sample(refresher, T2, "budget_exporter_provider_errors_total", onprem) == 0.0
    assert sample(refresher, T2, "budget_spend", {"budget": "servers", "currency": "USD"}) == 40.0


def test_an_empty_answer_is_accepted_when_no_current_period_had_spend(tmp_path: Path) -> None:
    """At a month's start nothing is known yet for the new month: empty is then the truth."""
    (tmp_path / "costs.csv").write_text("date,cost\n2026-11-02,40\n")
    with running() as api:
        config = parse_config(CONFIG.format(url=api.url), str(tmp_path / "c.yml"), str(tmp_path))
        refresher = Refresher(config)
        api.add("GET", ALLOCATION, good_answer(), Reply({"code": 200, "data": []}))
        refresher.refresh(T1, ["k8s"])
        next_month = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
        refresher.refresh(next_month, ["k8s"])
    assert refresher.health["k8s"].up
    spend = {"budget": "cluster", "currency": "USD"}
    assert sample(refresher, next_month, "budget_spend", spend) == 0.0
