"""How long the commands that answer without evaluating take, as whole processes.

``--version``; ``admit`` and ``report`` answered from the snapshot the demo config's exporter
published in a state folder (published once here, as a running ``serve`` does); ``check`` of a
small config (one CSV provider of 30 rows, which it reads); and ``python -c pass`` beside them
as the floor. Each is started ``--runs`` times after one warm-up, the trees in turn, and the
medians of wall and CPU (user + system) seconds are printed as a Markdown table.

    .venv/bin/python bench/cli_startup.py
    git archive main exporter | tar -x -C /tmp/before
    .venv/bin/python bench/cli_startup.py --tree before=/tmp/before/exporter --tree after=exporter

A tree is the folder holding ``budget_exporter``, put first on the commands' PYTHONPATH;
without ``--tree`` the commands import the package this interpreter does. bench/README.md
keeps the results ("Command-line start-up").
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from budget_exporter.config.loader import load_config
from budget_exporter.service.wsgi import ExporterService

SMALL_CONFIG = """\
providers:
  costs: {type: csv, paths: [costs.csv], dimensions: [ServiceName]}
budgets:
  - {name: team, amount: 400, period: monthly}
"""


def publish(folder: Path) -> None:
    """The demo config's snapshot in ``folder``, as a running exporter's leader writes it."""
    service = ExporterService(load_config(None), folder)
    service.step(datetime.now(UTC), datetime.min.replace(tzinfo=UTC))


def small_config(folder: Path) -> Path:
    rows = [f"2026-11-{day:02d},10,EC2" for day in range(1, 31)]
    (folder / "costs.csv").write_text("date,cost,ServiceName\n" + "\n".join(rows) + "\n")
    path = folder / "config.yml"
    path.write_text(SMALL_CONFIG)
    return path


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``command``, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.decode()[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--tree",
        action="append",
        default=[],
        metavar="NAME=FOLDER",
        help="a folder holding budget_exporter, measured under NAME (repeatable)",
    )
    args = parser.parse_args()
    trees = [tuple(item.split("=", 1)) for item in args.tree] or [("this tree", "")]
    with tempfile.TemporaryDirectory() as scratch:
        state = Path(scratch, "state")
        publish(state)
        config = small_config(Path(scratch))
        cli = [sys.executable, "-m", "budget_exporter.cli"]
        commands = {
            "`python -c pass`": [sys.executable, "-c", "pass"],
            "`--version`": [*cli, "--version"],
            "`admit --budget web --amount 8`": [
                *cli,
                *("admit", "--budget", "web", "--amount", "8", "--state.dir", str(state)),
            ],
            "`report`": [*cli, "report", "--state.dir", str(state)],
            "`check` of a small config": [*cli, "check", "--config.file", str(config)],
        }
        figures: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for run in range(args.runs + 1):  # the first round warms the caches and is not counted
            for label, command in commands.items():
                for name, folder in trees:
                    env = dict(os.environ)
                    if folder:
                        env["PYTHONPATH"] = os.pathsep.join(
                            [str(Path(folder).resolve()), env.get("PYTHONPATH", "")]
                        ).rstrip(os.pathsep)
                    result = timed(command, env)
                    if run:
                        figures.setdefault((label, name), []).append(result)
    header = " | ".join(f"{name} wall | {name} CPU" for name, _ in trees)
    print(f"| command | {header} |")
    print("| --- |" + " --- | --- |" * len(trees))
    for label in commands:
        cells = []
        for name, _ in trees:
            walls, cpus = zip(*figures[(label, name)], strict=True)
            cells.append(f"{statistics.median(walls):.3f} s | {statistics.median(cpus):.3f} s")
        print(f"| {label} | {' | '.join(cells)} |")
    print(f"\nmedians of {args.runs} runs after a warm-up, trees in turn")


if __name__ == "__main__":
    main()
