"""Slow clients beside normal scrapes: gunicorn's gthread worker against the shipped one.

Each slow client opens a connection, sends ``GET /metrics HTTP/1.1`` and ``Host: x``, then one
header line every 2 s and never ends its head. Meanwhile one scraper sends normal scrapes back
to back, each with the 10 s timeout of a Prometheus job, and counts answers and timeouts.
With ``--stalled``, each slow client is a stalled reader instead: it sends 1,000 pipelined
``GET /metrics`` and never reads, so a thread of the server blocks writing to it once the
socket buffers are full; a reader the server resets comes back at once. ``--write-timeout``
gives the shipped worker's write timeout (``none`` for none, as before it had one).
Loopback only; at most 500 slow clients and 300 s.

    .venv/bin/python bench/slow_clients.py --slow 8 12 50 --seconds 30
    .venv/bin/python bench/slow_clients.py --stalled --worker shipped --slow 4 8 16 \
        --write-timeout none 10s

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


def serve(config: str, state_dir: str, port: int, worker: str, write_timeout: float) -> None:
    """The shipped server (2 workers, 4 threads); ``worker`` gthread swaps the worker class."""
    from budget_exporter.service.server import GunicornServer, gunicorn_settings
    from budget_exporter.service.wsgi import create_app

    settings = gunicorn_settings(f"127.0.0.1:{port}", 2, "warning", write_timeout=write_timeout)
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


STALLED_REQUEST = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 1000


def _stalled_reader(port: int) -> socket.socket | None:
    try:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(5)
        sock.connect(("127.0.0.1", port))
        sock.sendall(STALLED_REQUEST)
        return sock
    except OSError:
        return None


TCP_CLOSE, TCP_CLOSE_WAIT = 7, 8  # tcpi_state, the first byte of Linux's TCP_INFO


def _reset(sock: socket.socket) -> bool:
    """Whether the server gave up on ``sock`` (reset or closed), without reading its answer."""
    try:
        state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
    except OSError:
        return True
    return state in (TCP_CLOSE, TCP_CLOSE_WAIT)


def _stall(port: int, count: int, stop: threading.Event, counts: dict[str, int]) -> None:
    sockets = [sock for sock in (_stalled_reader(port) for _ in range(count)) if sock]
    while not stop.wait(0.5):
        for sock in list(sockets):
            if _reset(sock):
                # Cut off by the write timeout: a stalled reader comes back.
                counts["reset"] += 1
                sockets.remove(sock)
                sock.close()
                fresh = _stalled_reader(port)
                if fresh is not None:
                    sockets.append(fresh)
    for sock in sockets:
        sock.close()


def run(
    worker: str, slow: int, seconds: float, stalled: bool = False, write_timeout: float = 60.0
) -> dict[str, Any]:
    """One server, ``slow`` slow clients, normal scrapes for ``seconds``."""
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        (base / "costs.csv").write_text("date,cost\n2024-09-01,10\n2024-09-02,20\n")
        (base / "config.yml").write_text(CONFIG)
        port = _free_port()
        command = [
            sys.executable,
            __file__,
            "--serve",
            folder,
            str(port),
            worker,
            str(write_timeout),
        ]
        server = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while not _scrape(f"{url}/-/ready")[0]:
                if time.monotonic() > deadline:
                    raise RuntimeError("server not ready")
                time.sleep(0.3)
            stop = threading.Event()
            counts = {"reset": 0}
            if stalled:
                target: Any = _stall
                arguments: tuple[Any, ...] = (port, slow, stop, counts)
            else:
                target, arguments = _trickle, (port, slow, stop)
            trickle = threading.Thread(target=target, args=arguments, daemon=True)
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
        "kind": "stalled readers" if stalled else "slow heads",
        "write_timeout": None if write_timeout >= NO_TIMEOUT else write_timeout,
        "stalled_resets": counts["reset"],
        "seconds": seconds,
        "scrapes_ok": ok,
        "scrapes_failed": failed,
        "median_ms": round(statistics.median(latencies) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
    }


NO_TIMEOUT = 1e6  # seconds: a write timeout that never comes


def _timeout(text: str) -> float:
    return NO_TIMEOUT if text == "none" else float(text.rstrip("s"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", type=int, nargs="+", default=[8, 12, 50])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--worker", choices=["gthread", "shipped"], nargs="+")
    parser.add_argument("--stalled", action="store_true", help="stalled readers, not slow heads")
    parser.add_argument("--write-timeout", type=_timeout, nargs="+", default=[60.0])
    parser.add_argument("--serve", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        folder, port, worker, write_timeout = args.serve
        config, state = str(Path(folder) / "config.yml"), str(Path(folder) / "state")
        serve(config, state, int(port), worker, float(write_timeout))
        return
    if max(args.slow) > 500 or args.seconds > 300:
        parser.error("at most 500 slow clients and 300 s")
    for worker in args.worker or ["gthread", "shipped"]:
        for write_timeout in args.write_timeout:
            for slow in args.slow:
                figures = run(worker, slow, args.seconds, args.stalled, write_timeout)
                print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
