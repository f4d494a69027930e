"""How long ``check`` takes to validate a config of many budgets, step by step.

A config of ``--budgets`` budgets over one CSV file: a parent per 10 budgets, the others its
children, with filters and labels as in bench/scrape.py. Times reading and validating the
config (``load_config``), the hierarchy's ``allocation_warnings`` and the whole ``check``
command (which also reads the CSV once), in one process.

    .venv/bin/python bench/check_speed.py --budgets 10000

Prints a JSON record; bench/README.md keeps the results.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
import time
from pathlib import Path

from budget_exporter.cli.commands import main as cli
from budget_exporter.config.hierarchy import allocation_warnings
from budget_exporter.config.loader import load_config

PERIODS = ("daily", "weekly", "monthly", "quarterly", "yearly")


def write_config(folder: Path, budgets: int) -> Path:
    (folder / "costs.csv").write_text("date,cost,team\n2024-09-01,10,web\n2024-09-02,20,data\n")
    lines = ["providers:", "  costs: {type: csv, paths: [costs.csv]}", "budgets:"]
    for i in range(budgets):
        parent = "" if i % 10 == 0 else f", parent: b{i - i % 10:05d}"
        amount = 100_000 if i % 10 == 0 else 1000 + i
        lines.append(
            f"  - {{name: b{i:05d}, amount: {amount}, period: {PERIODS[i % 5]}, "
            f"filter: {{team: [web]}}, labels: {{team: t{i % 50}}}{parent}}}"
        )
    path = folder / "config.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(budgets: int) -> dict[str, float | int]:
    with tempfile.TemporaryDirectory() as folder:
        path = write_config(Path(folder), budgets)
        started = time.perf_counter()
        config = load_config(path)
        loaded = time.perf_counter()
        warnings = allocation_warnings(config)
        warned = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = cli(["check", "--config.file", str(path), "--at", "2024-09-03T00:00:00Z"])
        checked = time.perf_counter()
    return {
        "budgets": budgets,
        "load_config_seconds": round(loaded - started, 2),
        "allocation_warnings_seconds": round(warned - loaded, 3),
        "warnings": len(warnings),
        "check_seconds": round(checked - warned, 2),
        "check_exit_code": code,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", type=int, default=10_000)
    args = parser.parse_args()
    if not 1 <= args.budgets <= 100_000:
        parser.error("1 to 100,000 budgets")
    print(json.dumps(run(args.budgets)), flush=True)


if __name__ == "__main__":
    main()
