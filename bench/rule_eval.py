"""Rule evaluation time in the real Prometheus with many budgets, for two sets of rule files.

One exporter serves ``--budgets`` demo budgets (the config of bench/scrape.py, with low
thresholds so that hundreds of alerts are active); one Prometheus at a time scrapes it with a
set of rule files and evaluates them every ``--interval``. An alerting rule expands its
annotations for every active alert, pending or firing, at every evaluation, so queries in
annotations show in ``prometheus_rule_group_last_duration_seconds``. The script prints, per
rule group, the median of that gauge over ``--samples`` evaluations, and how many alerts were
active.

    .venv/bin/python bench/rule_eval.py --budgets 10000 \\
        --rules before=/tmp/rules-before --rules after=rules/generated

A folder of rule files from another commit: ``git archive COMMIT rules/generated | tar -x -C
/tmp/old`` (then ``--rules before=/tmp/old/rules/generated``). Prints a JSON record;
bench/README.md keeps the results.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scrape import write_config

ROOT = Path(__file__).resolve().parents[1]
DURATION = re.compile(
    r'^prometheus_rule_group_last_duration_seconds\{rule_group="[^"]*;([^"]+)"\} (\S+)$'
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return str(response.read().decode())


def _wait(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            _get(url)
            return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"{url} not ready after {seconds:.0f}s")


def _durations(port: int) -> dict[str, float]:
    found = {}
    for line in _get(f"http://127.0.0.1:{port}/metrics").splitlines():
        if match := DURATION.match(line):
            found[match.group(1)] = float(match.group(2))
    return found


def _active_alerts(port: int) -> int:
    reply = json.loads(_get(f"http://127.0.0.1:{port}/api/v1/alerts"))
    return len(reply["data"]["alerts"])


def measure(
    prometheus: str, rules: Path, exporter: str, folder: Path, interval: int, samples: int
) -> dict[str, Any]:
    """Medians of each group's last evaluation time over ``samples`` evaluations."""
    config = folder / "prometheus.yml"
    config.write_text(
        f"global: {{scrape_interval: {interval}s, evaluation_interval: {interval}s, "
        f"scrape_timeout: {interval}s}}\n"
        f"rule_files: [{rules.resolve()}/*.rules.yml]\n"
        "scrape_configs:\n"
        f"  - job_name: budget-exporter\n    static_configs: [{{targets: ['{exporter}']}}]\n"
    )
    port = free_port()
    shutil.rmtree(folder / "tsdb", ignore_errors=True)
    command = [
        prometheus,
        f"--config.file={config}",
        f"--storage.tsdb.path={folder / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with open(folder / "prometheus.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait(f"http://127.0.0.1:{port}/-/ready", 60)
            # Two evaluations with data before measuring: the first ones find no series yet.
            time.sleep(3 * interval)
            seen: dict[str, list[float]] = {}
            for _ in range(samples):
                for group, seconds in _durations(port).items():
                    seen.setdefault(group, []).append(seconds)
                time.sleep(interval)
            active = _active_alerts(port)
        finally:
            process.terminate()
            process.wait(timeout=30)
    groups = {group: statistics.median(values) for group, values in sorted(seen.items())}
    return {"groups": groups, "total": sum(groups.values()), "active_alerts": active}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=int, default=10_000)
    parser.add_argument("--interval", type=int, default=15, help="evaluation interval, seconds")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--rules", action="append", required=True, help="NAME=FOLDER")
    parser.add_argument("--prometheus", default=shutil.which("prometheus") or "prometheus")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        write_config(folder / "config.yml", args.budgets)
        # Low thresholds: the demo's spend puts hundreds of budgets past them.
        text = (folder / "config.yml").read_text()
        (folder / "config.yml").write_text(
            "thresholds: {notice: 0.3, warning: 0.6, critical: 0.9, emergency: 1.2}\n" + text
        )
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "budget_exporter.cli",
            "serve",
            "--config.file",
            str(folder / "config.yml"),
            "--state.dir",
            str(folder / "state"),
            "--web.listen-address",
            f"127.0.0.1:{port}",
        ]
        with open(folder / "exporter.log", "wb") as log:
            exporter = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            try:
                _wait(f"http://127.0.0.1:{port}/-/ready", 900)
                record: dict[str, Any] = {"budgets": args.budgets, "interval": args.interval}
                for item in args.rules:
                    name, path = item.split("=", 1)
                    record[name] = measure(
                        args.prometheus,
                        Path(path),
                        f"127.0.0.1:{port}",
                        folder,
                        args.interval,
                        args.samples,
                    )
            finally:
                exporter.terminate()
                exporter.wait(timeout=30)
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
