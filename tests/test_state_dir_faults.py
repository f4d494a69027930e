"""A state directory that cannot be used at start: the server serves what was published, says
why it is not ready, retries, and refreshes again once the directory can be used."""

from __future__ import annotations

import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from attacks import attack
from conftest import wait_for_http
from exporterproc import exporter
from test_slow_clients import small_config

pytestmark = pytest.mark.integration

OLD_EXPOSITION = b'budget_limit{budget="from-before"} 1.0\n'


def ready(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@attack(
    "state directory",
    "a state directory whose lock cannot be written, later fixed",
    "retried; /-/ready 503 naming it; refreshes resume",
    found=5,
)
def test_an_unusable_state_directory_is_retried_and_shown_by_readiness(tmp_path: Path) -> None:
    config = small_config(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    (state / "metrics.prom").write_bytes(OLD_EXPOSITION)
    # The lock file cannot be opened for writing, whoever runs the test (root included), as on
    # a read-only file system.
    blocker = state / "refresh.lock"
    blocker.mkdir()
    with exporter(config, state, workers=2) as running:
        url = running.url()
        wait_for_http(f"{url}/-/healthy", timeout=60)
        deadline = time.monotonic() + 60
        while (answer := ready(url))[0] != 503 or "cannot be used" not in answer[1]:
            assert time.monotonic() < deadline, (answer, running.log_text())
            time.sleep(0.3)
        assert f"state directory {state} cannot be used" in answer[1]
        # The last published exposition is still served meanwhile.
        assert wait_for_http(f"{url}/metrics") == OLD_EXPOSITION
        assert f"state directory {state} cannot be used" in running.log_text()

        shutil.rmtree(blocker)  # the directory can be used again
        deadline = time.monotonic() + 60
        # The log line may land a moment after readiness flips: wait for all three.
        while (
            ready(url)[0] != 200
            or b'budget="team"' not in wait_for_http(f"{url}/metrics")
            or "can be used again" not in running.log_text()
        ):
            assert time.monotonic() < deadline, (ready(url), running.log_text())
            time.sleep(0.3)
        assert "refresh loop stopped" not in running.log_text()
        assert running.process.poll() is None
