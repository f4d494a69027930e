"""Wrong passwords beside normal scrapes: what bcrypt costs the server.

``budget-exporter serve`` as shipped (2 workers) with a web config holding one user whose hash
has cost 12 (as ``htpasswd -nBC 12`` makes). For ``--seconds``, ``--attackers`` clients send
requests with a wrong password back to back (``--vary``: a new wrong password each time), while
one scraper with the right password scrapes /metrics once every 100 ms. Reports the server's
CPU seconds (user + system, master and workers, from /proc), the attackers' requests per
second and the scrape latency. Loopback only; at most 32 attackers and 120 s.

    .venv/bin/python bench/auth.py --attackers 4 --seconds 20
    .venv/bin/python bench/auth.py --attackers 4 --seconds 20 --vary
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import bcrypt

PASSWORD = "the right password"
CONFIG = """\
refresh_interval: 1h
evaluation_interval: 1m
providers:
  costs: {type: csv, paths: ["costs.csv"]}
budgets:
  - {name: team, amount: 100, period: monthly}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _auth(password: str) -> dict[str, str]:
    token = base64.b64encode(f"prometheus:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _get(port: int, path: str, headers: dict[str, str]) -> tuple[int, float]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        answer = connection.getresponse()
        answer.read()
        return answer.status, time.perf_counter() - started
    except OSError:
        return 0, time.perf_counter() - started
    finally:
        connection.close()


def _cpu_seconds(root: int) -> float:
    """User + system CPU time of a process and its children, from /proc."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == root or int(fields[1]) == root:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run(attackers: int, seconds: float, vary: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        (base / "costs.csv").write_text("date,cost\n2024-09-01,10\n2024-09-02,20\n")
        (base / "config.yml").write_text(CONFIG)
        hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12)).decode()
        (base / "web.yml").write_text(f"basic_auth_users:\n  prometheus: {hashed}\n")
        port = _free_port()
        command = [
            sys.executable, "-m", "budget_exporter.cli", "serve",
            "--config.file", str(base / "config.yml"), "--state.dir", str(base / "state"),
            "--web.config.file", str(base / "web.yml"),
            "--web.listen-address", f"127.0.0.1:{port}", "--log.level", "warning",
        ]  # fmt: skip
        server = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while _get(port, "/-/ready", _auth(PASSWORD))[0] != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError("server not ready")
                time.sleep(0.3)
            stop = threading.Event()
            counts = [0] * attackers

            def attack(index: int) -> None:
                n = 0
                while not stop.is_set():
                    n += 1
                    wrong = f"guess {index} {n}" if vary else "wrong password"
                    _get(port, "/metrics", _auth(wrong))
                    counts[index] += 1

            threads = [threading.Thread(target=attack, args=(i,)) for i in range(attackers)]
            cpu_before = _cpu_seconds(server.pid)
            for thread in threads:
                thread.start()
            latencies, failed = [], 0
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                status, elapsed = _get(port, "/metrics", _auth(PASSWORD))
                latencies.append(elapsed)
                failed += status != 200
                time.sleep(0.1)
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
            cpu = _cpu_seconds(server.pid) - cpu_before
        finally:
            server.terminate()
            server.wait(timeout=30)
    ordered = sorted(latencies)
    return {
        "attackers": attackers,
        "vary_password": vary,
        "seconds": seconds,
        "server_cpu_seconds": round(cpu, 1),
        "server_cores_busy": round(cpu / seconds, 2),
        "attacker_requests_per_second": round(sum(counts) / seconds, 1),
        "scrapes": len(latencies),
        "scrapes_failed": failed,
        "scrape_median_ms": round(statistics.median(ordered) * 1000, 1),
        "scrape_p90_ms": round(ordered[int(len(ordered) * 0.9)] * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attackers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--vary", action="store_true", help="a new wrong password each time")
    args = parser.parse_args()
    if not 0 <= args.attackers <= 32 or args.seconds > 120:
        parser.error("0 to 32 attackers and at most 120 s")
    print(json.dumps(run(args.attackers, args.seconds, args.vary)), flush=True)


if __name__ == "__main__":
    main()
