"""The web config is read again on SIGHUP and POST /-/reload: a changed password takes effect
without a restart, a broken file is rejected with its problems logged while the one in force
stays, and ``check`` validates the file as ``serve`` reads it."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import bcrypt
import pytest
import requests

from attacks import attack
from budget_exporter.cli.commands import EXIT_BAD_CONFIG, EXIT_OK, main
from budget_exporter.service.webconfig import WebConfigHolder, load_web_config
from exporterproc import exporter
from test_slow_clients import small_config

OLD, NEW = "old leaked password", "new password"


def write_web(path: Path, password: str) -> None:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
    path.write_text(f"basic_auth_users:\n  prometheus: {hashed}\n")


BROKEN = "basic_auth_users:\n  prometheus: not-a-hash\n"


def status(url: str, password: str) -> int:
    return requests.get(url, auth=("prometheus", password), timeout=10).status_code


def wait_until(
    condition: Callable[[], bool], what: str, log: Callable[[], str], timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}; log:\n{log()}"
        time.sleep(0.3)


@attack(
    "web config",
    "a changed web config, then a broken one",
    "the valid one taken, the broken one refused while the one in force stays",
    found=2,
)
def test_the_holder_takes_a_valid_file_and_keeps_the_old_one_over_a_broken_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    web = tmp_path / "web.yml"
    write_web(web, OLD)
    holder = WebConfigHolder(load_web_config(web))
    write_web(web, NEW)
    assert holder.reload()
    first = holder.current
    web.write_text(BROKEN)
    assert not holder.reload()
    assert holder.current is first
    assert f"{web}:2: basic_auth_users.prometheus: not a bcrypt hash" in caplog.text
    assert "not-a-hash" not in caplog.text
    assert (holder.reloads, holder.failures) == (1, 1)


@attack(
    "web config",
    "a new bcrypt hash, then a broken file, on SIGHUP and POST /-/reload",
    "the old password revoked without a restart; the broken file logged and refused",
    found=2,
)
@pytest.mark.integration
def test_sighup_and_post_reload_swap_the_password_and_reject_a_broken_web_config(
    tmp_path: Path,
) -> None:
    config = small_config(tmp_path)
    web = tmp_path / "web.yml"
    write_web(web, OLD)
    extra = ["--web.config.file", str(web), "--web.enable-lifecycle", "--web.workers", "2"]
    with exporter(config, tmp_path / "state", extra) as running:
        url = f"{running.url()}/-/healthy"
        wait_until(lambda: _status_or_none(url, OLD) == 200, "server up", running.log_text)
        assert status(url, NEW) == 401

        # The leaked password is revoked by a SIGHUP.
        write_web(web, NEW)
        running.process.send_signal(signal.SIGHUP)
        wait_until(
            lambda: _status_or_none(url, NEW) == 200 and status(url, OLD) == 401,
            "the new password did not replace the old one",
            running.log_text,
        )
        assert "web config reloaded from" in running.log_text()

        # A broken file is rejected with its place; the password in force still works.
        web.write_text(BROKEN)
        running.process.send_signal(signal.SIGHUP)
        wait_until(
            lambda: "web config reload rejected" in running.log_text(),
            "no rejection logged",
            running.log_text,
        )
        assert f"{web}:2: basic_auth_users.prometheus" in running.log_text()
        for _ in range(5):
            assert _status_or_none(url, NEW) == 200
        assert running.process.poll() is None

        # POST /-/reload validates the web config first: 500 naming it, nothing changes.
        answer = requests.post(
            f"{running.url()}/-/reload", auth=("prometheus", NEW), timeout=10, data=b""
        )
        assert answer.status_code == 500
        assert f"{web}:2: basic_auth_users.prometheus" in answer.text
        assert "not-a-hash" not in answer.text

        # Fixed, then POST /-/reload: the file is read again.
        write_web(web, OLD)
        answer = requests.post(
            f"{running.url()}/-/reload", auth=("prometheus", NEW), timeout=10, data=b""
        )
        assert answer.status_code == 200
        wait_until(
            lambda: _status_or_none(url, OLD) == 200,
            "POST /-/reload did not read the web config again",
            running.log_text,
        )
    for password in (OLD, NEW):
        assert password not in running.log_text()


def _status_or_none(url: str, password: str) -> int | None:
    try:
        return status(url, password)
    except requests.RequestException:
        return None  # between workers, or not started yet


@attack(
    "web config",
    "check --web.config.file with a bad file",
    "every problem with file, line and key",
    found=2,
)
def test_check_validates_the_web_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = small_config(tmp_path)
    web = tmp_path / "web.yml"
    web.write_text(BROKEN)
    assert main(["check", "--config.file", str(config), "--web.config.file", str(web)]) == (
        EXIT_BAD_CONFIG
    )
    captured = capsys.readouterr()
    assert f"{web}:2: basic_auth_users.prometheus: not a bcrypt hash" in captured.err
    assert "not-a-hash" not in captured.out + captured.err
    write_web(web, NEW)
    assert main(["check", "--config.file", str(config), "--web.config.file", str(web)]) == EXIT_OK
    assert f"web config ok: {web}: no TLS, 1 basic auth user(s)" in capsys.readouterr().out
