"""Scrape benchmark: ``/metrics`` of many budgets against a static byte string of the same size.

Both are served by the same gunicorn server, as shipped (``budget_exporter.server``), so the
ratio isolates what the exporter adds to a scrape. Requests alternate A, B, A, B on one
keep-alive connection, so machine noise hits both sides alike.

    .venv/bin/python bench/scrape.py --budgets 10000 --requests 300

Prints a JSON record; bench/README.md keeps the results.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TEAMS = ("platform", "data", "web", "ml", "finance")
SERVICES = (
    "Amazon Elastic Compute Cloud",
    "Amazon Simple Storage Service",
    "BigQuery",
    "Vertex AI",
    "Azure Kubernetes Service",
)
PERIODS = ("daily", "weekly", "monthly", "quarterly", "yearly")


def write_config(path: Path, budgets: int) -> None:
    """A demo-provider config with ``budgets`` budgets, each with a filter, labels, breakdown."""
    lines = [
        "refresh_interval: 1h",
        "evaluation_interval: 1h",
        "breakdown: {dimensions: [ServiceName], top: 5}",
        "providers:",
        "  demo: {type: demo}",
        "budgets:",
    ]
    for i in range(budgets):
        team = TEAMS[i % len(TEAMS)]
        service = SERVICES[(i // len(TEAMS)) % len(SERVICES)]
        lines.append(
            f"  - {{name: b{i:05d}, amount: {1000 + i}, period: {PERIODS[i % len(PERIODS)]}, "
            f"provider: demo, filter: {{tags.team: {team}, ServiceName: [{service}]}}, "
            f"labels: {{team: {team}}}}}"
        )
    path.write_text("\n".join(lines) + "\n")


def serve(config: str, state_dir: str, port: int, workers: int) -> None:
    """Run the shipped server with one extra route, /static, holding a copy of the exposition."""
    from budget_exporter.service.server import GunicornServer, gunicorn_settings
    from budget_exporter.service.wsgi import create_app

    def factory() -> Any:
        app = create_app(config, state_dir)
        static: dict[str, bytes] = {}

        def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
            if environ.get("PATH_INFO") == "/static":
                if "body" not in static:
                    exposition = app.published.get()
                    if exposition is None:
                        start_response("503 Service Unavailable", [("Content-Length", "0")])
                        return [b""]
                    static["body"] = bytes(exposition.plain)
                body = static["body"]
                start_response(
                    "200 OK",
                    [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
                )
                return [body]
            return app(environ, start_response)

        return wrapped

    settings = gunicorn_settings(f"127.0.0.1:{port}", workers, "warning")
    GunicornServer(factory, settings).run()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(
    connection: http.client.HTTPConnection, path: str, gzip: bool = False
) -> tuple[float, int]:
    headers = {"Accept-Encoding": "gzip"} if gzip else {}
    started = time.perf_counter()
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status}")
    return elapsed, len(body)


def _pss_bytes(root_pid: int) -> int:
    """Proportional set size of a process and its children (gunicorn master and workers).

    PSS splits pages shared after fork between the processes, so the sum is not inflated.
    """
    pids = [root_pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == root_pid:
                pids.append(int(entry))
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


def run(budgets: int, requests: int, workers: int) -> dict[str, Any]:
    """Start the server, wait for its first snapshot, then time both routes alternately."""
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.yml"
        write_config(config, budgets)
        port = _free_port()
        command = [
            sys.executable,
            __file__,
            "--serve",
            str(config),
            str(Path(folder) / "state"),
            str(port),
            str(workers),
        ]
        started = time.monotonic()
        server = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            while True:
                try:
                    _get(connection, "/-/ready")
                    break
                except (OSError, RuntimeError, http.client.HTTPException):
                    connection.close()
                    if time.monotonic() - started > 900:
                        raise
                    time.sleep(0.5)
            first_snapshot = time.monotonic() - started
            for _ in range(10):  # warm-up: page caches, the static copy, gzip of the exposition
                _get(connection, "/metrics")
                _get(connection, "/static")
                _get(connection, "/metrics", gzip=True)
            metrics, static, compressed, ratios = [], [], [], []
            size = gz_size = 0
            for _ in range(requests):
                a, size = _get(connection, "/metrics")
                b, _ = _get(connection, "/static")
                c, gz_size = _get(connection, "/metrics", gzip=True)
                metrics.append(a)
                static.append(b)
                compressed.append(c)
                ratios.append(a / b)
            memory = _pss_bytes(server.pid)
            connection.request("GET", "/metrics")
            body = connection.getresponse().read()
            series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {
        "budgets": budgets,
        "requests_each": requests,
        "workers": workers,
        "exposition_bytes": size,
        "exposition_gzip_bytes": gz_size,
        "series": series,
        "seconds_to_first_snapshot": round(first_snapshot, 1),
        "metrics": _summary(metrics),
        "static": _summary(static),
        "metrics_gzip": _summary(compressed),
        "ratio_metrics_to_static_median": round(statistics.median(ratios), 3),
        "pss_mib_all_processes": round(memory / 2**20, 1),
    }


def main() -> None:
    """Command line entry point."""
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        _, _, config, state, port, workers = sys.argv
        serve(config, state, int(port), int(workers))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=int, default=10000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(run(args.budgets, args.requests, args.workers), indent=2))


if __name__ == "__main__":
    main()
