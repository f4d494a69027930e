"""The production server: gunicorn serving the published snapshot over HTTP."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import FOCUS_SAMPLE, require_binary, running_exporter, wait_for_http

pytestmark = pytest.mark.integration


def promtool_lint(exposition: bytes) -> str:
    """Problems ``promtool check metrics`` reports on an exposition (empty when clean)."""
    promtool = require_binary("promtool")
    result = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True, timeout=30
    )
    return (result.stdout + result.stderr).decode()


def test_demo_server_serves_clean_metrics_over_http(tmp_path: Path) -> None:
    with running_exporter(None, tmp_path / "state") as url:
        wait_for_http(f"{url}/-/ready", timeout=60)
        body = wait_for_http(f"{url}/metrics")
        assert b'budget_utilization_ratio{budget="ml-platform"' in body
        assert b'budget_exporter_provider_up{provider="demo",type="demo"} 1.0' in body
        assert promtool_lint(body) == ""
        assert b"Healthy" in wait_for_http(f"{url}/-/healthy")
        assert b'href="/metrics"' in wait_for_http(f"{url}/")


def test_metrics_are_gzipped_when_the_scraper_asks(tmp_path: Path) -> None:
    with running_exporter(None, tmp_path / "state") as url:
        plain = wait_for_http(f"{url}/metrics", timeout=60)
        request = urllib.request.Request(f"{url}/metrics", headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.headers["Content-Encoding"] == "gzip"
            assert gzip.decompress(response.read()) == plain


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nowhere", 404), ("POST", "/metrics", 405)],
    ids=["unknown path is 404", "POST is 405"],
)
def test_other_requests_are_refused(tmp_path: Path, method: str, path: str, status: int) -> None:
    with running_exporter(None, tmp_path / "state") as url:
        wait_for_http(f"{url}/-/ready", timeout=60)
        request = urllib.request.Request(
            f"{url}{path}", method=method, data=b"" if method == "POST" else None
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=5)
        assert caught.value.code == status


def _focus_config(folder: Path) -> Path:
    data = folder / "data"
    data.mkdir(parents=True)
    shutil.copy(FOCUS_SAMPLE, data / "focus_sample.csv")
    config = folder / "config.yml"
    config.write_text(
        textwrap.dedent(
            """
            refresh_interval: 1h
            evaluation_interval: 1s
            providers:
              billing: {type: focus, paths: ["data/*.csv"]}
            budgets:
              - {name: all-cloud, amount: 100, period: yearly, provider: billing}
            """
        )
    )
    return config


def test_restart_serves_the_persisted_data_without_reading_the_source_again(
    tmp_path: Path,
) -> None:
    config = _focus_config(tmp_path)
    state = tmp_path / "state"
    with running_exporter(config, state) as url:
        wait_for_http(f"{url}/-/ready", timeout=60)
        first = wait_for_http(f"{url}/metrics")
    assert b'budget_spend{budget="all-cloud",currency="USD"}' in first
    # The source disappears; a restart within the refresh interval must not need it.
    (tmp_path / "data" / "focus_sample.csv").unlink()
    with running_exporter(config, state) as url:
        wait_for_http(f"{url}/-/ready", timeout=60)
        again = wait_for_http(f"{url}/metrics")
    spend = [line for line in first.splitlines() if line.startswith(b"budget_spend{")]
    assert spend and all(line in again.splitlines() for line in spend)
    assert b'budget_exporter_provider_up{provider="billing",type="focus"} 1.0' in again


def test_several_workers_share_one_refresher(tmp_path: Path) -> None:
    config = _focus_config(tmp_path)
    log = tmp_path / "exporter.log"
    with running_exporter(config, tmp_path / "state", workers=3, log_file=log) as url:
        wait_for_http(f"{url}/-/ready", timeout=60)
        for _ in range(20):
            wait_for_http(f"{url}/metrics")
    fetches = [line for line in log.read_text().splitlines() if "provider billing:" in line]
    assert len(fetches) == 1, fetches
