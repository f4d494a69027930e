"""Two servers on one state directory: the same config may share it, another config is refused
with an error naming both configs, and the mark goes away with the server that made it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from attacks import attack
from budget_exporter.service.state import StateDir, StateDirTaken
from conftest import free_port, wait_for_http
from exporterproc import exporter
from test_slow_clients import small_config


def test_a_folder_marked_with_one_config_refuses_another_and_accepts_the_same(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "a.yml", tmp_path / "b.yml"
    first.touch()
    second.touch()
    holder = StateDir(tmp_path / "state")
    holder.claim(str(first))
    StateDir(tmp_path / "state").claim(str(first))
    with pytest.raises(StateDirTaken) as caught:
        StateDir(tmp_path / "state").claim(str(second))
    assert str(first.resolve()) in str(caught.value)
    assert str(second.resolve()) in str(caught.value)


def test_the_mark_goes_with_the_process_that_made_it(tmp_path: Path) -> None:
    first, second = tmp_path / "a.yml", tmp_path / "b.yml"
    code = (
        "import sys; from budget_exporter.service.state import StateDir; "
        f"StateDir({str(tmp_path / 'state')!r}).claim({str(first)!r})"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    StateDir(tmp_path / "state").claim(str(second))  # that process has ended


@attack(
    "state directory",
    "a second serve with another config on the same state directory",
    "refused with exit code 2 naming both configs",
    found=11,
)
@pytest.mark.integration
def test_a_second_serve_with_another_config_on_the_same_state_dir_is_refused(
    tmp_path: Path,
) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first, second = small_config(tmp_path / "one"), small_config(tmp_path / "two")
    state = tmp_path / "state"
    with exporter(first, state) as running:
        wait_for_http(f"{running.url()}/-/ready", timeout=60)
        command = [
            sys.executable, "-m", "budget_exporter.cli", "serve", "--config.file", str(second),
            "--state.dir", str(state), "--web.listen-address", f"127.0.0.1:{free_port()}",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, result.stderr
        assert f"state directory {state} is in use" in result.stderr
        assert str(first.resolve()) in result.stderr
        assert str(second.resolve()) in result.stderr
        # The first server is untouched.
        assert b'budget="team"' in wait_for_http(f"{running.url()}/metrics")
