"""Reservations on a running exporter: threads on two workers and command lines racing for the
same room never get more than remained, and what they hold survives a restart."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from budget_exporter.service.reservations import ReservationBook
from conftest import wait_for_http
from exporterproc import exporter

pytestmark = pytest.mark.integration

CONFIG = """
timezone: UTC
providers:
  costs: {type: csv, paths: [costs.csv], dimensions: [ServiceName], granularity: hourly}
budgets:
  - {name: org, amount: 1000, period: monthly}
  - {name: ci, amount: 500, period: monthly, parent: org, filter: {ServiceName: CI}}
  - {name: ml, amount: 500, period: monthly, parent: org, filter: {ServiceName: GPU}}
"""
AMOUNT = 7.0


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """880 on GPU in the first hour of this month: ci has 500 left, its parent org 120."""
    first = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    stamp = first.isoformat().replace("+00:00", "Z")
    (tmp_path / "costs.csv").write_text(f"date,cost,ServiceName\n{stamp},880,GPU\n")
    path = tmp_path / "config.yml"
    path.write_text(CONFIG)
    return path


def _remaining(base: str, name: str) -> float:
    budget = json.loads(wait_for_http(f"{base}/api/v1/budgets/{name}"))
    return float(budget["remaining"])


def _cli_reserve(config: Path, state: Path, holder: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "budget_exporter.cli", "admit", "--config.file", str(config)]
    command += ["--state.dir", str(state), "--budget", "ci", "--amount", str(AMOUNT)]
    command += ["--reserve", "--holder", holder, "--ttl", "10m"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_racing_requests_and_command_lines_never_get_more_than_remained(tmp_path, config_file):
    state = tmp_path / "state"
    extra = ["--web.enable-reservations"]
    with exporter(config_file, state, extra=extra, workers=2) as running:
        base = running.url()
        wait_for_http(f"{base}/-/ready")
        # ci's own room is 500; org (the parent) has 1000 - 880 = 120 once the first hour of
        # the month has passed (less of it counts before): the smaller room decides.
        own, parent = _remaining(base, "ci"), _remaining(base, "org")
        room = min(own, parent)
        assert own == 500 and room > 0
        expected = math.floor(room / AMOUNT + 1e-9)
        clis = [_cli_reserve(config_file, state, f"cli-{n}") for n in range(3)]
        granted: list[float] = []
        refused: list[dict] = []
        statuses: list[int] = []
        lock = threading.Lock()
        go = threading.Barrier(8)

        def hammer(n: int) -> None:
            client = requests.Session()
            go.wait()
            for attempt in range(4):
                answer = client.post(
                    f"{base}/api/v1/budgets/ci/reservations",
                    json={"amount": AMOUNT, "holder": f"thread-{n}-{attempt}", "ttl": 600},
                    timeout=30,
                )
                with lock:
                    statuses.append(answer.status_code)
                    if answer.status_code == 201:
                        granted.append(answer.json()["reservation"]["amount"])
                    elif answer.status_code == 409:
                        refused.append(answer.json()["admission"])

        threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        outputs = [process.communicate(timeout=60) for process in clis]
        codes = [process.returncode for process in clis]
        cli_granted = [out for (out, _), code in zip(outputs, codes, strict=True) if code in (0, 3)]
        assert set(statuses) <= {201, 409}, statuses
        assert set(codes) <= {0, 1, 3}, [err.decode() for _, err in outputs]
        assert all(out.startswith(b"reserved ") for out in cli_granted)
        total = sum(granted) + AMOUNT * len(cli_granted)
        assert total <= room + 0.005
        # Nothing was refused while room was left: exactly as many as fit were granted.
        assert len(granted) + len(cli_granted) == expected
        assert {item["refused_by"] for item in refused} == {"org" if parent < own else "ci"}
        listed = requests.get(f"{base}/api/v1/budgets/ci/reservations", timeout=10).json()
        assert len(listed["reservations"]) == expected
        assert listed["held"] == pytest.approx(total)
    # A restart serves the same reservations from the state folder.
    with exporter(config_file, state, extra=extra) as running:
        base = running.url()
        wait_for_http(f"{base}/-/ready")
        listed = requests.get(f"{base}/api/v1/budgets/ci/reservations", timeout=10).json()
        assert len(listed["reservations"]) == expected
        # The last exposition of the first run is served at once; the new leader's first
        # snapshot carries what the reservations hold.
        sample = f'budget_reserved{{budget="ci",currency="USD"}} {total}'
        deadline = time.monotonic() + 30
        while sample not in requests.get(f"{base}/metrics", timeout=10).text:
            assert time.monotonic() < deadline, "budget_reserved never showed the reservations"
            time.sleep(0.2)
        one = listed["reservations"][0]["id"]
        released = requests.delete(f"{base}/api/v1/budgets/ci/reservations/{one}", timeout=10)
        assert released.status_code == 200
    book = ReservationBook(state)
    assert len(book.active(datetime.now(UTC), {})) == expected - 1
    assert not any(name.startswith(".") for name in os.listdir(book.folder))


OPENAPI = Path(__file__).resolve().parent.parent / "exporter/budget_exporter/views/openapi.yml"
WRITABLE = schemathesis.openapi.from_path(OPENAPI).include(path_regex="reservations|jobs")
JOBS_CONFIG = """
timezone: UTC
jobs: {dimension: tags.job}
providers:
  costs: {type: csv, paths: [costs.csv], dimensions: {tags.job: job}}
budgets:
  - {name: team, amount: 1000000, period: monthly}
"""


@pytest.fixture(scope="module")
def writable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An exporter taking reservations, with job accounting on tags.job."""
    folder = tmp_path_factory.mktemp("writable")
    today = datetime.now(UTC).date()
    (folder / "costs.csv").write_text(f"date,cost,job\n{today},10,j1\n")
    (folder / "config.yml").write_text(JOBS_CONFIG)
    extra = ["--web.enable-reservations"]
    with exporter(folder / "config.yml", folder / "state", extra=extra) as running:
        wait_for_http(f"{running.url()}/-/ready")
        yield running.url()


@WRITABLE.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_reservations_and_jobs_answer_as_the_openapi_file_says(case, writable):
    case.call_and_validate(base_url=writable)
