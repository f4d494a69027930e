"""The exporter image, run the way users run it: read-only, non-root, every capability dropped.

scripts/test-image builds the image from the Dockerfile (on a local Debian base, with wheels
built on the host) and runs this module with BUDGET_EXPORTER_IMAGE naming it. Containers publish
their port on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conftest import FOCUS_SAMPLE, ROOT, wait_for_http

IMAGE = os.environ.get("BUDGET_EXPORTER_IMAGE", "")
pytestmark = pytest.mark.skipif(
    not IMAGE, reason="scripts/test-image builds the image and runs these tests"
)

PORT = 10098
UID = 10098
STATE = "/var/lib/budget-exporter"
CONFIG_DIR = "/etc/budget-exporter"
# Snapshots take longer in a container that starts cold, on a machine shared with other jobs.
READY_TIMEOUT = 180.0

FOCUS_CONFIG = """\
# The FOCUS 1.0 sample data of the FinOps Foundation (CC BY 4.0), mounted beside this file.
refresh_interval: 1h
evaluation_interval: 1s
providers:
  billing: {type: focus, paths: ["data/*.csv"]}
budgets:
  - {name: all-cloud, amount: 100, period: yearly, provider: billing}
"""


def docker(*args: str, check: bool = True) -> str:
    """Run a docker command; its stdout."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def inspect(container: str) -> dict[str, Any]:
    """``docker inspect`` of a container."""
    result: dict[str, Any] = json.loads(docker("inspect", container))[0]
    return result


@contextmanager
def container(*options: str, command: Sequence[str] = ()) -> Iterator[tuple[str, str]]:
    """Run the image hardened as documented; yield (container name, base URL on loopback)."""
    name = f"budget-exporter-test-{uuid.uuid4().hex[:12]}"
    docker(
        "run",
        "--detach",
        f"--name={name}",
        "--read-only",
        "--tmpfs=/tmp",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges:true",
        f"--publish=127.0.0.1::{PORT}",
        *options,
        IMAGE,
        *command,
    )
    try:
        host_port = docker("port", name, f"{PORT}/tcp").splitlines()[0].rsplit(":", 1)[1]
        yield name, f"http://127.0.0.1:{host_port}"
    finally:
        docker("stop", "--time=30", name, check=False)
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True).stderr
        docker("rm", "--force", name, check=False)
        print(logs[-3000:])


@pytest.fixture
def volume() -> Iterator[str]:
    """A named volume for the state folder, removed afterwards."""
    name = docker("volume", "create", f"budget-exporter-test-{uuid.uuid4().hex[:12]}")
    yield name
    docker("volume", "rm", "--force", name, check=False)


def _focus_config_dir(folder: Path) -> Path:
    """A config folder as a user mounts it: config.yml and the FOCUS file it reads."""
    (folder / "data").mkdir(parents=True)
    shutil.copy(FOCUS_SAMPLE, folder / "data" / "focus_sample.csv")
    (folder / "config.yml").write_text(FOCUS_CONFIG)
    # The container's user is not the owner of the files: it needs read access only.
    for path in [folder, folder / "data"]:
        path.chmod(0o755)
    for path in folder.rglob("*"):
        if path.is_file():
            path.chmod(0o644)
    return folder


def _lines(exposition: bytes, prefix: bytes) -> list[bytes]:
    return [line for line in exposition.splitlines() if line.startswith(prefix)]


def test_image_runs_as_its_own_non_root_user_with_no_capabilities_on_a_read_only_root() -> None:
    with container() as (name, url):
        wait_for_http(f"{url}/-/ready", timeout=READY_TIMEOUT)
        assert docker("exec", name, "id", "-u") == str(UID)
        status = docker("exec", name, "cat", "/proc/1/status")
        capabilities = dict(
            line.split(":\t", 1) for line in status.splitlines() if line.startswith("Cap")
        )
        assert capabilities["CapEff"] == capabilities["CapPrm"] == "0000000000000000"
        assert status.count("NoNewPrivs:\t1") == 1
        written = subprocess.run(
            ["docker", "exec", name, "touch", "/opt/budget-exporter/written"],
            capture_output=True,
            text=True,
        )
        assert written.returncode != 0 and "Read-only file system" in written.stderr
        docker("exec", name, "touch", f"{STATE}/written")
        config = inspect(name)
        assert config["HostConfig"]["ReadonlyRootfs"] is True
        assert config["Config"]["User"] == f"{UID}:{UID}"


def test_image_serves_the_demo_by_default_and_reports_ready() -> None:
    with container() as (_, url):
        assert wait_for_http(f"{url}/-/ready", timeout=READY_TIMEOUT)
        metrics = wait_for_http(f"{url}/metrics")
        assert _lines(metrics, b'budget_spend{budget="organization"')
        assert b'budget_exporter_provider_up{provider="demo",type="demo"} 1.0' in metrics
        assert _lines(metrics, b"slo_error_budget_remaining_ratio{")


def _dockerfile_healthcheck() -> list[str]:
    """The HEALTHCHECK command of the Dockerfile, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    match = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])$", text, flags=re.M)
    assert match, "the Dockerfile has a HEALTHCHECK in exec form"
    command: list[str] = json.loads(match[1])
    return command


def _health(name: str) -> dict[str, Any]:
    """The health state once it has left "starting" (or the last one seen)."""
    deadline = time.monotonic() + READY_TIMEOUT
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = inspect(name)["State"].get("Health") or {}
        if state.get("Status") not in {None, "starting"}:
            break
        time.sleep(1)
    return state


# The probes' interval and start period are shortened for the tests; the command is the image's.
FAST_HEALTH = ["--health-interval=2s", "--health-start-period=1s", "--health-retries=2"]


def test_image_healthcheck_is_the_dockerfiles_and_turns_healthy() -> None:
    with container(*FAST_HEALTH) as (name, url):
        wait_for_http(f"{url}/-/healthy", timeout=READY_TIMEOUT)
        assert inspect(name)["Config"]["Healthcheck"]["Test"] == ["CMD", *_dockerfile_healthcheck()]
        state = _health(name)
        assert state.get("Status") == "healthy", state
        assert state["Log"][-1]["ExitCode"] == 0


def test_image_healthcheck_turns_unhealthy_when_the_exporter_does_not_answer() -> None:
    # The exporter listens elsewhere than the port probed: the probe has to fail.
    elsewhere = ["serve", f"--state.dir={STATE}", f"--web.listen-address=:{PORT + 1}"]
    with container(*FAST_HEALTH, command=elsewhere) as (name, _):
        state = _health(name)
        assert state.get("Status") == "unhealthy", state
        assert state["Log"][-1]["ExitCode"] != 0


def test_mounted_focus_config_replaces_the_demo_and_a_restart_serves_the_saved_state(
    tmp_path: Path, volume: str
) -> None:
    config = _focus_config_dir(tmp_path / "config")
    mounts = [f"--volume={config}:{CONFIG_DIR}:ro", f"--volume={volume}:{STATE}"]
    with container(*mounts) as (_, url):
        wait_for_http(f"{url}/-/ready", timeout=READY_TIMEOUT)
        first = wait_for_http(f"{url}/metrics")
    assert _lines(first, b'budget_spend{budget="all-cloud",currency="USD"}')
    assert not _lines(first, b'budget_spend{budget="organization"'), "the demo is not loaded"
    assert b'budget_exporter_provider_up{provider="billing",type="focus"} 1.0' in first

    # The source disappears: within the refresh interval, a new container on the same volume
    # must serve the saved data without reading it.
    (config / "data" / "focus_sample.csv").unlink()
    with container(*mounts) as (_, url):
        wait_for_http(f"{url}/-/ready", timeout=READY_TIMEOUT)
        again = wait_for_http(f"{url}/metrics")
    spend = _lines(first, b"budget_spend{")
    assert spend and all(line in again.splitlines() for line in spend)
    assert b'budget_exporter_provider_up{provider="billing",type="focus"} 1.0' in again
