"""Config reload on SIGHUP and POST /-/reload: a valid file replaces the running config in every
worker, an invalid one is rejected with its problems logged while the old config keeps serving."""

from __future__ import annotations

import signal
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from budget_exporter.config.loader import load_config
from budget_exporter.service.lifecycle import ConfigHolder
from conftest import wait_for_http
from exporterproc import exporter

CONFIG = """
refresh_interval: 1h
evaluation_interval: 1s
providers:
  costs: {{type: csv, paths: ["costs.csv"]}}
budgets:
{budgets}
"""


def write_config(folder: Path, *names: str) -> Path:
    """A config with one monthly budget per name, all on the same small CSV."""
    (folder / "costs.csv").write_text("date,cost\n2024-09-01,10\n2024-09-02,20\n")
    budgets = "\n".join(f"  - {{name: {name}, amount: 100, period: monthly}}" for name in names)
    path = folder / "config.yml"
    path.write_text(textwrap.dedent(CONFIG.format(budgets=budgets)))
    return path


BROKEN = (
    "providers:\n  costs: {type: csv, paths: [costs.csv]}\nbudgets:\n  - {name: x, amount: -5}\n"
)


def test_a_valid_file_replaces_the_held_config_and_a_bad_one_is_kept_out(tmp_path: Path) -> None:
    path = write_config(tmp_path, "first")
    holder = ConfigHolder(load_config(path))
    write_config(tmp_path, "first", "second")
    assert holder.reload()
    assert [b.name for b in holder.config.budgets] == ["first", "second"]
    path.write_text(BROKEN)
    assert not holder.reload()
    assert [b.name for b in holder.config.budgets] == ["first", "second"]
    assert (holder.reloads, holder.failures) == (1, 1)


def wait_for_budget(url: str, name: str, timeout: float = 60) -> bytes:
    """Poll /metrics until budget ``name`` is served."""
    deadline = time.monotonic() + timeout
    needle = f'budget_limit{{budget="{name}"'.encode()
    while True:
        body = wait_for_http(f"{url}/metrics", timeout=timeout)
        if needle in body:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"budget {name} not served within {timeout}s")
        time.sleep(0.3)


def post(url: str) -> tuple[int, str]:
    """POST with an empty body; the status and body of the answer."""
    request = urllib.request.Request(url, method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.integration
def test_sighup_and_post_reload_swap_good_configs_and_reject_bad_ones(tmp_path: Path) -> None:
    path = write_config(tmp_path, "first")
    extra = ["--web.enable-lifecycle", "--web.workers", "2"]
    with exporter(path, tmp_path / "state", extra) as running:
        url = running.url()
        wait_for_budget(url, "first")

        # SIGHUP with a valid new file: every new worker and the refresher use it.
        write_config(tmp_path, "first", "second")
        running.process.send_signal(signal.SIGHUP)
        wait_for_budget(url, "second")

        # SIGHUP with a broken file: rejected, logged, the server keeps serving both budgets.
        path.write_text(BROKEN)
        running.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while "config reload rejected" not in running.log_text():
            assert time.monotonic() < deadline, running.log_text()
            time.sleep(0.2)
        assert f"{path}:4: budgets[0].amount" in running.log_text()
        for _ in range(10):
            body = wait_for_http(f"{url}/metrics")
            assert b'budget_limit{budget="second"' in body
        assert running.process.poll() is None

        # POST /-/reload with the broken file: 500 naming file and place; nothing changes.
        status, text = post(f"{url}/-/reload")
        assert status == 500
        assert f"{path}:4: budgets[0].amount" in text
        # GET is not a reload.
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"{url}/-/reload", timeout=5)
        assert caught.value.code == 405

        # POST /-/reload with a fixed file: accepted, the new budget appears.
        write_config(tmp_path, "third")
        assert post(f"{url}/-/reload")[0] == 200
        body = wait_for_budget(url, "third")
        assert b'budget_limit{budget="first"' not in body
        assert running.process.poll() is None
