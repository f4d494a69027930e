"""Load test: concurrent scrapers against the shipped server while refreshes run, then a soak.

The server is ``budget-exporter serve`` as shipped (gunicorn, 2 workers, gthread), on 127.0.0.1
only, with the demo provider and ``--budgets`` budgets. Refreshes and evaluations are made
frequent so that new snapshots are published during the load. Then:

1. ``--clients`` threads scrape ``/metrics`` (gzip, as Prometheus asks) on keep-alive
   connections for ``--seconds``: failed scrapes, latency percentiles, throughput, and how many
   distinct snapshots the scrapers saw.
2. Soak: no scrapers; the server keeps refreshing for ``--soak`` seconds while the memory (PSS)
   of all its processes is sampled, to show whether it grows with repeated refreshes.

    .venv/bin/python bench/load.py --budgets 10000 --clients 50 --seconds 60 --soak 600

Everything is bounded: at most 200 clients, 600 s of load and 3600 s of soak. Prints JSON;
docs/reliability.md and bench/README.md keep the results.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scrape import _free_port, _pss_bytes, write_config

MAX_CLIENTS, MAX_SECONDS, MAX_SOAK = 200, 600, 3600
SNAPSHOT = re.compile(rb"^budget_exporter_snapshot_timestamp_seconds (\S+)$", re.M)


def _configure(path: Path, budgets: int, refresh: str, evaluation: str) -> None:
    write_config(path, budgets)
    text = path.read_text()
    text = text.replace("refresh_interval: 1h", f"refresh_interval: {refresh}", 1)
    text = text.replace("evaluation_interval: 1h", f"evaluation_interval: {evaluation}", 1)
    path.write_text(text)


def _wait_ready(port: int, deadline: float) -> None:
    while True:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", "/-/ready")
            if connection.getresponse().status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        finally:
            connection.close()
        if time.monotonic() > deadline:
            raise TimeoutError("the server published no snapshot in time")
        time.sleep(1)


class _Client(threading.Thread):
    """One scraper: GET /metrics with gzip on a keep-alive connection until the deadline."""

    def __init__(self, port: int, deadline: float):
        super().__init__(daemon=True)
        self.port = port
        self.deadline = deadline
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.retried = 0
        self.snapshots: set[bytes] = set()
        self.bytes = 0

    def _scrape(self, connection: http.client.HTTPConnection) -> tuple[Any, bytes]:
        connection.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
        response = connection.getresponse()
        return response, response.read()

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while time.monotonic() < self.deadline:
            started = time.perf_counter()
            try:
                try:
                    response, body = self._scrape(connection)
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    # The server closed the kept-alive connection before answering. Like Go's
                    # HTTP client in Prometheus, retry an idempotent GET once on a new one.
                    self.retried += 1
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                    response, body = self._scrape(connection)
                elapsed = time.perf_counter() - started
                if response.status != 200:
                    self.failures.append(f"HTTP {response.status}")
                    continue
                self.latencies.append(elapsed)
                self.bytes += len(body)
                if len(self.latencies) % 20 == 1:  # sample: which snapshot is being served
                    match = SNAPSHOT.search(gzip.decompress(body))
                    if match:
                        self.snapshots.add(match.group(1))
            except (OSError, http.client.HTTPException) as error:
                self.failures.append(type(error).__name__)
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.close()


def _percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def run(budgets: int, clients: int, seconds: float, soak: float, sample_every: float) -> Any:
    """Start the server, load it, soak it; return the figures."""
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.yml"
        _configure(config, budgets, refresh="30s", evaluation="15s")
        port = _free_port()
        command = [
            sys.executable,
            "-m",
            "budget_exporter.cli",
            "serve",
            "--config.file",
            str(config),
            "--state.dir",
            str(Path(folder) / "state"),
            "--web.listen-address",
            f"127.0.0.1:{port}",
            "--log.level",
            "warning",
        ]
        started = time.monotonic()
        log = Path(folder) / "server.log"
        with log.open("wb") as stream:
            server = subprocess.Popen(command, stderr=stream)
        try:
            _wait_ready(port, started + 900)
            first_snapshot = time.monotonic() - started
            load_start = time.monotonic()
            threads = [_Client(port, load_start + seconds) for _ in range(clients)]
            memory_before = _pss_bytes(server.pid)
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(seconds + 60)
            wall = time.monotonic() - load_start
            memory_after_load = _pss_bytes(server.pid)
            latencies = sorted(x for t in threads for x in t.latencies)
            failures = [f for t in threads for f in t.failures]
            snapshots = set().union(*(t.snapshots for t in threads))
            samples = []
            soak_start = time.monotonic()
            while time.monotonic() - soak_start < soak:
                samples.append(
                    (round(time.monotonic() - soak_start), round(_pss_bytes(server.pid) / 2**20, 1))
                )
                time.sleep(sample_every)
            samples.append(
                (round(time.monotonic() - soak_start), round(_pss_bytes(server.pid) / 2**20, 1))
            )
            alive = server.poll() is None
        finally:
            server.terminate()
            server.wait(timeout=30)
        figures = {
            "budgets": budgets,
            "clients": clients,
            "seconds": round(wall, 1),
            "seconds_to_first_snapshot": round(first_snapshot, 1),
            "scrapes_ok": len(latencies),
            "scrapes_failed": len(failures),
            "retried_on_a_new_connection": sum(t.retried for t in threads),
            "worker_timeouts": log.read_text(errors="replace").count("WORKER TIMEOUT"),
            "failure_kinds": sorted(set(failures)),
            "scrapes_per_second": round(len(latencies) / wall, 1),
            "megabytes_per_second": round(sum(t.bytes for t in threads) / wall / 2**20, 1),
            "latency_ms": {
                "median": round(statistics.median(latencies) * 1000, 1) if latencies else None,
                "p90": round(_percentile(latencies, 0.90) * 1000, 1) if latencies else None,
                "p99": round(_percentile(latencies, 0.99) * 1000, 1) if latencies else None,
                "max": round(latencies[-1] * 1000, 1) if latencies else None,
            },
            "distinct_snapshots_served": len(snapshots),
            "pss_mib": {
                "before_load": round(memory_before / 2**20, 1),
                "after_load": round(memory_after_load / 2**20, 1),
                "soak_samples": samples,
            },
            "server_alive_at_end": alive,
        }
    return figures


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=int, default=10000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--soak", type=float, default=600, help="seconds of refreshes after")
    parser.add_argument("--sample-every", type=float, default=30)
    args = parser.parse_args()
    if not (1 <= args.clients <= MAX_CLIENTS and 0 < args.seconds <= MAX_SECONDS):
        parser.error(f"at most {MAX_CLIENTS} clients and {MAX_SECONDS} s of load")
    if not 0 <= args.soak <= MAX_SOAK:
        parser.error(f"at most {MAX_SOAK} s of soak")
    figures = run(args.budgets, args.clients, args.seconds, args.soak, args.sample_every)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
