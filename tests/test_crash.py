"""SIGKILL at random points while refreshes write the state: every file left is whole, and a
restart serves the persisted numbers at once, even when the source is gone."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from budget_exporter.config.loader import load_config
from budget_exporter.model.costs import CostData
from budget_exporter.service.refresh import provider_fingerprint
from budget_exporter.service.state import StateDir
from conftest import free_port, wait_for_http
from exporterproc import serve_command

KILLS = 3  # of the real server; the forked writer below is killed many more times
WRITER_KILLS = 20
# On a loaded machine most kills can land while a frame is serialised, before any file is
# open; the test goes on killing until enough land inside a write, within this bound.
MAX_WRITER_KILLS = 300
INTERRUPTED_WRITES = 3


def frame(rows: int, cost: float) -> pd.DataFrame:
    """A normalized cost frame of ``rows`` daily rows of ``cost`` each."""
    start = pd.date_range("2024-01-01", periods=rows, freq="h", tz="UTC")
    return pd.DataFrame(
        {
            "start": start,
            "end": start + pd.Timedelta(hours=1),
            "cost": [cost] * rows,
            "currency": pd.Categorical(["USD"] * rows),
            "charge_category": pd.Categorical(["usage"] * rows),
        }
    )


def _write_forever(folder: Path, versions: list[tuple[CostData, bytes]], started: int) -> None:
    state = StateDir(folder)
    os.write(started, b"x")
    while True:
        for number, (data, exposition) in enumerate(versions):
            state.save_provider("costs", "f" * 16, data, {"version": number})
            state.write_metrics(exposition)


def test_state_files_are_whole_after_sigkill_in_the_middle_of_writes(tmp_path: Path) -> None:
    versions = [
        (CostData(frame(rows, cost), None, sources=rows), f"version {rows}\n".encode() * rows)
        for rows, cost in ((30_000, 1.0), (20_000, 2.0), (10_000, 3.0))
    ]
    chance = random.Random(8)
    interrupted = 0
    for attempt in range(MAX_WRITER_KILLS):
        if attempt >= WRITER_KILLS and interrupted >= INTERRUPTED_WRITES:
            break
        reader, writer = os.pipe()
        child = os.fork()
        if child == 0:  # the writer: real state code, rewriting as fast as it can
            try:
                _write_forever(tmp_path, versions, writer)
            finally:
                os._exit(1)
        os.read(reader, 1)  # the writer is running
        os.close(reader)
        os.close(writer)
        time.sleep(chance.uniform(0.0, 0.1))
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        interrupted += bool([*tmp_path.glob(".*.*"), *tmp_path.glob("providers/.*.*")])
        state = StateDir(tmp_path)
        exposition = state.metrics_path.read_bytes() if state.metrics_path.exists() else None
        assert exposition is None or exposition in {payload for _, payload in versions}
        loaded = state.load_provider("costs", "f" * 16)
        if loaded is None:
            continue  # killed before the first record was written
        data, record = loaded
        written, _ = versions[record["version"]]
        assert data.sources == written.sources
        pd.testing.assert_frame_equal(data.frame, written.frame, check_categorical=False)
    # Kills landed while a temporary file was open (most do): the test did hit writes.
    assert interrupted >= INTERRUPTED_WRITES
    state = StateDir(tmp_path)
    assert state.try_lead()
    assert [*tmp_path.glob(".*.*"), *tmp_path.glob("providers/.*.*")] == []
    assert len([*tmp_path.glob("providers/*.parquet")]) <= 2
    state.release()


def spend_lines(exposition: bytes) -> list[bytes]:
    """The budget_spend samples of an exposition."""
    return [line for line in exposition.splitlines() if line.startswith(b"budget_spend{")]


@pytest.mark.integration
def test_state_survives_sigkill_at_random_points_and_is_served_at_once(tmp_path: Path) -> None:
    # Enough rows that each refresh spends a while writing Parquet, JSON and the exposition.
    rows = "".join(f"2024-09-{1 + i % 28:02d},{i % 97}.5,svc-{i % 300}\n" for i in range(20_000))
    (tmp_path / "costs.csv").write_text("date,cost,service\n" + rows)
    config = tmp_path / "config.yml"
    config.write_text(
        textwrap.dedent(
            """
            refresh_interval: 1s
            evaluation_interval: 1s
            providers:
              costs: {type: csv, paths: ["costs.csv"], dimensions: [service]}
            budgets:
              - {name: onprem, amount: 100000, period: yearly, provider: costs}
            """
        )
    )
    state = tmp_path / "state"
    fingerprint = provider_fingerprint(load_config(config), "costs")
    chance = random.Random(8)
    log = open(tmp_path / "exporter.log", "ab")  # noqa: SIM115
    served: list[bytes] = []
    try:
        for _ in range(KILLS):
            port = free_port()
            process = subprocess.Popen(
                serve_command(config, state, port),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                served.append(wait_for_http(f"http://127.0.0.1:{port}/metrics", timeout=60))
                time.sleep(chance.uniform(0.0, 1.5))
            finally:
                # Master and worker die at once, as in an out-of-memory kill or a power cut.
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            exposition = (state / "metrics.prom").read_bytes()
            families = {f.name for f in text_string_to_metric_families(exposition.decode())}
            assert {"budget_spend", "budget_exporter_provider_up"} <= families
            assert exposition.endswith(b"\n")
            record = json.loads((state / "providers" / "costs.json").read_text())
            assert record["fingerprint"] == fingerprint
            loaded = StateDir(state).load_provider("costs", fingerprint)
            assert loaded is not None and len(loaded[0].frame) > 0
        assert all(spend_lines(body) == spend_lines(served[0]) for body in served)
        assert spend_lines(served[0])

        # The source disappears; the restarted exporter serves what it persisted at once.
        (tmp_path / "costs.csv").unlink()
        port = free_port()
        with subprocess.Popen(
            serve_command(config, state, port), stdout=log, stderr=subprocess.STDOUT
        ) as process:
            try:
                body = wait_for_http(f"http://127.0.0.1:{port}/metrics", timeout=60)
                assert spend_lines(body) == spend_lines(served[0])
            finally:
                process.terminate()
                process.wait(timeout=15)
    finally:
        log.close()
    # Temporary files of interrupted writes were cleaned up by the next leader.
    leftovers = [p.name for p in [*state.glob(".*.*"), *(state / "providers").glob(".*.*")]]
    assert leftovers == []
