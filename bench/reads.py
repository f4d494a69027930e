"""Reads that can be skipped: a restart's check of its kept forecast models, and the appended
tail of a ``csv`` cost file.

``--restart``: a server's start as ``bench/ingest.py --restart`` times it (a process of its own,
from its first line), on a state folder whose models were all fit, the file unchanged; today's
tree against ``--baseline`` (an ``exporter/`` folder of another checkout), alternating, each
with its own state folder. ``--csv``: a ``csv`` provider's read of a cost file of ``--rows``
daily rows after a day of rows was appended to it, plain and gzip: the whole file parsed again
against the appended tail parsed and merged with the groups kept from before, alternating in
one process; both must give the same groups.

Run: .venv/bin/python bench/reads.py --restart --baseline /path/to/main/exporter --csv
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import ingest  # the generator and the start script of the ingest benchmark

BUDGET = {"name": "all", "amount": 1000, "period": "monthly"}
HERE = Path(__file__).resolve().parent.parent / "exporter"


def restarts(folder: Path, rows: int, budgets: int, baseline: str, repeat: int) -> None:
    data = ingest.generate(folder, rows, ["parquet"])["parquet"]
    config = ingest.write_config(folder, data, budgets)
    trees = {"today": str(HERE), "baseline": baseline}
    states = {name: folder / f"state-{name}" for name in trees}
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    for name, tree in trees.items():  # every model fit, as a long-running server has them
        env = {**os.environ, "PYTHONPATH": tree}
        command = [sys.executable, "-c", ingest.START, str(config), str(states[name])]
        ingest.isolated([*command, ingest.datetime_at(0)], env, folder / "first.json")
    for attempt in range(repeat):
        for name, tree in trees.items():
            env = {**os.environ, "PYTHONPATH": tree}
            at = ingest.datetime_at(2 + attempt)
            command = [sys.executable, "-c", ingest.START, str(config), str(states[name]), at]
            output = folder / "start.json"
            _, peak = ingest.isolated(command, env, output)
            figures = json.loads(output.read_text().strip().splitlines()[-1])
            runs[name].append({**figures, "peak RSS MiB": peak})
    print(f"\n{rows / 1e6:g} M rows, FOCUS Parquet, {budgets} budgets, restart, file unchanged:")
    for name, figures in runs.items():
        keys = ("refresh", "first evaluation and rendering", "to first snapshot", "peak RSS MiB")
        shown = ", ".join(
            f"{key} {statistics.median(run[key] for run in figures):.2f}" for key in keys
        )
        fits = {run["fits in it"] for run in figures}
        print(f"- {name}: {shown}, fits {sorted(fits)} (median of {len(figures)})")
    data.unlink()


def csv_lines(first_day: int, days: int, per_day: int) -> bytes:
    """Daily rows of a cost export: a date, a service, an account, a team and a cost."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    out = []
    for day in range(first_day, first_day + days):
        date = (start + timedelta(days=day)).strftime("%m/%d/%Y")
        for i in range(per_day):
            cost = ((i * 7919 + day) % 10000) / 1000
            out.append(f"{date},service-{i % 50},acct-{(i // 7) % 200},team-{i % 20},{cost}\n")
    return "".join(out).encode()


def csv_reads(folder: Path, rows: int, repeat: int) -> None:
    from budget_exporter.config.loader import load_config
    from budget_exporter.providers.base import ProviderContext
    from budget_exporter.providers.registry import build_provider
    from budget_exporter.providers.support.cost_files import file_identity, read_text

    days = 90
    per_day = rows // days
    header = b"date,service,account,team,cost\n"
    body, tail = csv_lines(0, days - 1, per_day), csv_lines(days - 1, 1, per_day)
    now = datetime(2024, 3, 31, tzinfo=UTC)
    print(f"\n`csv` provider, {rows / 1e6:g} M daily rows, one day ({per_day:,} rows) appended:")
    print("| file | whole read | of which hashing the text | appended lines read | groups |")
    print("|---|---|---|---|---|")
    for kind in ("plain", "gzip"):
        path = folder / ("costs.csv" if kind == "plain" else "costs.csv.gz")
        settings = {
            "type": "csv",
            "paths": [str(path)],
            "currency": "USD",
            "date_format": "%m/%d/%Y",
            "dimensions": ["service", "account", "team"],
        }
        config_path = folder / "config.yml"
        config_path.write_text(json.dumps({"providers": {"costs": settings}, "budgets": [BUDGET]}))
        config = load_config(str(config_path))
        cache = folder / "cache"
        shutil.rmtree(cache, ignore_errors=True)
        kept = ProviderContext("UTC", "USD", str(folder), cache_dir=str(cache))
        provider = build_provider("costs", config.providers["costs"], kept)
        # Whole reads by a provider of their own, which keeps no note of the appended file.
        fresh = build_provider(
            "costs", config.providers["costs"], ProviderContext("UTC", "USD", str(folder))
        )
        write = gzip.open if kind == "gzip" else open
        with write(path, "wb") as stream:  # type: ignore[operator]
            stream.write(header + body)
        provider.fetch(now)  # the read before the append
        entry = provider._cache._entries[path]
        note = provider._cache.noted(path, entry.value)
        with write(path, "ab") as stream:  # type: ignore[operator]
            stream.write(tail)
        whole_times, tail_times, pass_times = [], [], []
        for _ in range(repeat):
            started = time.perf_counter()
            whole = fresh.parse_file(path, now)
            whole_times.append(time.perf_counter() - started)
            provider._cache.note(path, entry.value, note)  # as after the read before
            started = time.perf_counter()
            partial, read_whole = provider._update(path, entry, now)
            tail_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            # What a whole read adds to note what it read: the hash of the text, inflated
            # first for gzip (which a read of the appended lines must inflate as well).
            read_text(path, kind, 0, file_identity(path))
            pass_times.append(time.perf_counter() - started)
        same = _same_groups(whole[0], partial[0]) and whole[1] == partial[1]
        how = "read whole" if read_whole else "only the appended lines"
        print(
            f"| {kind}, {path.stat().st_size / 2**20:.0f} MiB | "
            f"{statistics.median(whole_times):.2f} s | "
            f"{statistics.median(pass_times):.2f} s | "
            f"{statistics.median(tail_times):.2f} s ({how}) | "
            f"{'identical' if same else 'DIFFER'} |",
            flush=True,
        )
        path.unlink()


def _same_groups(left, right) -> bool:
    keys = [c for c in left.columns if c != "cost"]
    a = left.astype({k: "object" for k in keys[2:]}).groupby(keys)["cost"].sum()
    b = right.astype({k: "object" for k in keys[2:]}).groupby(keys)["cost"].sum()
    return a.index.equals(b.index) and bool(((a - b).abs() <= 1e-9 * b.abs().clip(1)).all())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restart", action="store_true")
    parser.add_argument("--baseline", help="an exporter/ folder to compare restarts with")
    parser.add_argument("--restart-rows", type=int, default=5_000_000)
    parser.add_argument("--budgets", type=int, default=2000)
    parser.add_argument("--csv", action="store_true")
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reads-") as scratch:
        if args.restart:
            if not args.baseline:
                parser.error("--restart needs --baseline")
            restarts(Path(scratch), args.restart_rows, args.budgets, args.baseline, args.repeat)
        if args.csv:
            csv_reads(Path(scratch), args.rows, args.repeat)


if __name__ == "__main__":
    main()
