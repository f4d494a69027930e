"""Slow clients beside normal scrapes: gunicorn's gthread worker against the shipped one.

Each slow client opens a connection, sends ``GET /metrics HTTP/1.1`` and ``Host: x``, then one
header line every 2 s and never ends its head. Meanwhile one scraper sends normal scrapes back
to back, each with the 10 s timeout of a Prometheus job, and counts answers and timeouts.
Loopback only; at most 500 slow clients and 300 s.

    .venv/bin/python bench/slow_clients.py --slow 8 12 50 --seconds 30

Prints one JSON record per run; bench/README.md keeps the results.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

CONFIG = """\
refresh_interval: 1h
evaluation_interval: 1m
providers:
  costs: {type: csv, paths: ["costs.csv"]}
budgets:
  - {name: team, amount: 100, period: monthly}
"""


def serve(config: str, state_dir: str, port: int, worker: str) -> None:
    """The shipped server (2 workers, 4 threads); ``worker`` gthread swaps the worker class."""
    from budget_exporter.service.server import GunicornServer, gunicorn_settings
    from budget_exporter.service.wsgi import create_app

    settings = gunicorn_settings(f"127.0.0.1:{port}", 2, "warning")
    if worker == "gthread":
        settings["worker_class"] = "gthread"
    GunicornServer(lambda: create_app(config, state_dir), settings).run()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scrape(url: str) -> tuple[bool, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            answer.read()
            ok = answer.status == 200
    except OSError:
        ok = False
    return ok, time.perf_counter() - started


def _trickle(port: int, count: int, stop: threading.Event) -> None:
    sockets = []
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            sockets.append(sock)
        except OSError:
            continue
    line = 0
    while not stop.wait(2.0):
        line += 1
        for sock in list(sockets):
            try:
                sock.sendall(f"X-Slow-{line}: a\r\n".encode())
            except OSError:
                # Closed by the server (header-read timeout): a slow client comes back.
                sockets.remove(sock)
                try:
                    fresh = socket.create_connection(("127.0.0.1", port), timeout=5)
                    fresh.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
                    sockets.append(fresh)
                except OSError:
                    pass
    for sock in sockets:
        sock.close()


def run(worker: str, slow: int, seconds: float) -> dict[str, Any]:
    """One server, ``slow`` slow clients, normal scrapes for ``seconds``."""
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        (base / "costs.csv").write_text("date,cost\n2024-09-01,10\n2024-09-02,20\n")
        (base / "config.yml").write_text(CONFIG)
        port = _free_port()
        command = [sys.executable, __file__, "--serve", folder, str(port), worker]
        server = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while not _scrape(f"{url}/-/ready")[0]:
                if time.monotonic() > deadline:
                    raise RuntimeError("server not ready")
                time.sleep(0.3)
            stop = threading.Event()
            trickle = threading.Thread(target=_trickle, args=(port, slow, stop), daemon=True)
            trickle.start()
            time.sleep(1.0)
            ok = failed = 0
            latencies = []
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                good, elapsed = _scrape(f"{url}/metrics")
                ok += good
                failed += not good
                latencies.append(elapsed)
            stop.set()
            trickle.join(timeout=10)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {
        "worker": worker,
        "slow_clients": slow,
        "seconds": seconds,
        "scrapes_ok": ok,
        "scrapes_failed": failed,
        "median_ms": round(statistics.median(latencies) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", type=int, nargs="+", default=[8, 12, 50])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--worker", choices=["gthread", "shipped"], nargs="+")
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        folder, port, worker = args.serve
        serve(str(Path(folder) / "config.yml"), str(Path(folder) / "state"), int(port), worker)
        return
    if max(args.slow) > 500 or args.seconds > 300:
        parser.error("at most 500 slow clients and 300 s")
    for worker in args.worker or ["gthread", "shipped"]:
        for slow in args.slow:
            print(json.dumps(run(worker, slow, args.seconds)), flush=True)


if __name__ == "__main__":
    main()
