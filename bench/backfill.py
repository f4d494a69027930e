"""Time and memory of ``backfill`` for many budgets over many days, beside one ``once``.

Writes the demo-provider config of bench/scrape.py with ``--budgets`` budgets, then runs, each
as a process of its own: ``once --at`` the last day (one evaluation, the baseline),
``backfill --no-blocks`` over ``--days`` days at ``--step`` (the evaluations and the
OpenMetrics file), and the full ``backfill`` (plus ``promtool tsdb create-blocks-from
openmetrics``). Prints a JSON record: wall seconds, peak RSS of the process tree, file sizes,
samples written, and the time per evaluated step against the single ``once``.

    .venv/bin/python bench/backfill.py --budgets 1000 --days 90 --step 1d

bench/README.md keeps the results.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scrape import write_config

# A fixed end, so a rerun evaluates the same days of the demo data.
END = datetime(2026, 11, 30, tzinfo=UTC)


def _run(command: list[str]) -> dict[str, Any]:
    """Wall time and peak RSS (MiB) of ``command`` and everything it started."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # a child of our own, so its rusage holds this command's tree alone
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        os.execv(command[0], command)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command} failed with {status}")
    # ru_maxrss of wait4 is the largest process of the tree, in KiB on Linux.
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024)}


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--step", default="1d")
    args = parser.parse_args()
    start = END - timedelta(days=args.days)
    cli = [sys.executable, "-m", "budget_exporter.cli"]
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        config = folder / "config.yml"
        write_config(config, args.budgets)
        common = ["--config.file", str(config), "--log.level", "warning"]
        record: dict[str, Any] = {"budgets": args.budgets, "days": args.days, "step": args.step}
        record["once"] = _run([*cli, "once", *common, "--at", END.isoformat()])
        window = ["--from", start.date().isoformat(), "--to", END.date().isoformat()]
        om_only = folder / "om"
        record["backfill_openmetrics"] = _run(
            [*cli, "backfill", *common, *window, "--step", args.step, "--out", str(om_only),
             "--no-blocks"]
        )  # fmt: skip
        full = folder / "full"
        record["backfill_blocks"] = _run(
            [*cli, "backfill", *common, *window, "--step", args.step, "--out", str(full)]
        )
        om = om_only / "backfill.om"
        record["openmetrics_mib"] = round(_size(om) / 2**20, 1)
        record["blocks_mib"] = round(_size(full / "blocks") / 2**20, 1)
        samples, moments = 0, set()
        with om.open("rb") as stream:
            for line in stream:
                if not line.startswith(b"#"):
                    samples += 1
                    moments.add(line.rsplit(b" ", 1)[-1])  # the sample's timestamp
        record["samples"] = samples
        steps = len(moments)
        record["steps"] = steps
        record["seconds_per_step"] = round(record["backfill_openmetrics"]["seconds"] / steps, 3)
        record["step_over_once"] = round(record["seconds_per_step"] / record["once"]["seconds"], 3)
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
