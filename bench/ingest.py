"""Cost files of any size: the exporter's ``once`` against DuckDB alone computing the same sums.

Synthetic FOCUS 1.0 rows (90 days of hourly rows, 50 services, 200 accounts, 8 regions, tags as
JSON, 20 columns) are written as Parquet and CSV.gz into a scratch folder (never committed).
Side by side in one run, each a separate process whose wall time and peak RSS are measured:

- ``once``: ``budget-exporter once --at`` over a config of 10 budgets filtering on ServiceName
  and tags (the exposition discarded);
- ``duckdb``: DuckDB alone, the same month-to-date sums per budget read from the file;
- ``baseline`` (with ``--baseline SRC``): ``once`` with the package found at SRC, such as an
  earlier checkout's ``exporter/`` folder, for the reader before the engine;
- ``refresh``: a second refresh of the same provider with the files unchanged;
- ``restart``: a new refresher over a state folder already written, to its first snapshot;
- ``evaluation``: 2,000 budgets (``--budgets``) evaluated over the data: the first two fit
  forecast models (at most 1,000 per evaluation), the third is the steady state.

Run: .venv/bin/python bench/ingest.py --rows 1000000 5000000 [--baseline /path/to/exporter]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVICES = 50
ACCOUNTS = 200
AT = "2024-03-31T00:00:00+00:00"


def generate(folder: Path, rows: int) -> dict[str, Path]:
    """Parquet and CSV.gz files of ``rows`` synthetic FOCUS rows."""
    import duckdb

    hours = 90 * 24
    select = f"""
        SELECT
            TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_hours(i % {hours}) AS ChargePeriodStart,
            TIMESTAMPTZ '2024-01-01 01:00:00+00' + to_hours(i % {hours}) AS ChargePeriodEnd,
            round(((hash(i) % 10000) / 1000.0), 4) AS BilledCost,
            round(((hash(i) % 10000) / 1100.0), 4) AS EffectiveCost,
            'USD' AS BillingCurrency,
            CASE WHEN i % 997 = 0 THEN 'Purchase' WHEN i % 991 = 0 THEN 'Tax' ELSE 'Usage' END
                AS ChargeCategory,
            'Usage-Based' AS ChargeFrequency,
            'Cloud' AS ProviderName,
            'Cloud' AS PublisherName,
            'billing-1' AS BillingAccountId,
            'acct-' || ((i // 7) % {ACCOUNTS}) AS SubAccountId,
            'account ' || ((i // 7) % {ACCOUNTS}) AS SubAccountName,
            'service-' || (i % {SERVICES}) AS ServiceName,
            'Compute' AS ServiceCategory,
            'region-' || (i % 8) AS RegionId,
            'sku-' || (i % 500) AS SkuId,
            'resource-' || i AS ResourceId,
            'line item ' || i AS ChargeDescription,
            hash(i) % 100 AS ConsumedQuantity,
            '{{"team": "team-' || (i % 20) || '", "env": "' ||
                CASE WHEN i % 3 = 0 THEN 'prod' ELSE 'dev' END || '"}}' AS Tags
        FROM range({rows}) t(i)
    """
    paths = {"parquet": folder / "focus.parquet", "csv.gz": folder / "focus.csv.gz"}
    connection = duckdb.connect()
    connection.sql(f"COPY ({select}) TO '{paths['parquet']}' (FORMAT parquet)")
    connection.sql(
        f"COPY (SELECT * REPLACE (strftime(ChargePeriodStart, '%Y-%m-%dT%H:%M:%SZ') AS "
        f"ChargePeriodStart, strftime(ChargePeriodEnd, '%Y-%m-%dT%H:%M:%SZ') AS ChargePeriodEnd) "
        f"FROM read_parquet('{paths['parquet']}')) TO '{paths['csv.gz']}' "
        "(FORMAT csv, HEADER, COMPRESSION gzip)"
    )
    connection.close()
    return paths


def budgets(count: int) -> list[dict[str, object]]:
    """Budgets filtering on a service, a team tag, or both, cycling through the values."""
    result = []
    for number in range(count):
        kind = number % 3
        filters: dict[str, str] = {}
        if kind in (0, 2):
            filters["ServiceName"] = f"service-{number % SERVICES}"
        if kind in (1, 2):
            filters["tags.team"] = f"team-{number % 20}"
        result.append(
            {"name": f"b{number}", "amount": 1000, "period": "monthly", "filter": filters}
        )
    return result


def write_config(folder: Path, data: Path, count: int) -> Path:
    config = {
        "timezone": "UTC",
        "currency": "USD",
        "providers": {"billing": {"type": "focus", "paths": [str(data)]}},
        "budgets": budgets(count),
    }
    path = folder / f"config-{data.name}-{count}.yml"
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    return path


def measure(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest so far: run each measure in a fresh helper.
    return wall, max(peak, before) / 1024


def isolated(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """``measure`` in a fresh helper process, so each peak RSS is its own."""
    helper = [sys.executable, __file__, "--measure", json.dumps(command)]
    output = subprocess.run(
        helper, check=True, capture_output=True, text=True, env=env
    ).stdout.strip()
    wall, peak = json.loads(output.splitlines()[-1])
    return float(wall), float(peak)


DUCKDB_ALONE = """
import sys, duckdb
path, source = sys.argv[1], sys.argv[2]
reader = f"read_parquet('{path}')" if source == "parquet" else f"read_csv('{path}', header=true)"
duckdb.sql(f'''
    SELECT ServiceName, json_extract_string(Tags, '$.team') AS team,
        date_trunc('day', CAST(ChargePeriodStart AS TIMESTAMPTZ)) AS day, ChargeCategory,
        sum(CAST(BilledCost AS DOUBLE))
    FROM {reader}
    WHERE CAST(ChargePeriodStart AS TIMESTAMPTZ) >= TIMESTAMPTZ '2024-03-01 00:00:00+00'
    GROUP BY ALL
''').fetchall()
"""

PHASES = """
import sys, time, json
from datetime import datetime
from budget_exporter.config.loader import load_config
from budget_exporter.service.refresh import Refresher
from budget_exporter.service.state import StateDir
config_path, state_path, at = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
config = load_config(config_path)
figures = {}
started = time.perf_counter()
refresher = Refresher(config, StateDir(state_path))
refresher.refresh(at, list(refresher.providers))
figures["first read"] = time.perf_counter() - started
started = time.perf_counter()
refresher.refresh(at, list(refresher.providers))
figures["refresh, files unchanged"] = time.perf_counter() - started
started = time.perf_counter()
refresher.snapshot(at)
figures["first evaluation"] = time.perf_counter() - started
started = time.perf_counter()
refresher.snapshot(at)
figures["second evaluation (fits the models the first left waiting)"] = (
    time.perf_counter() - started
)
started = time.perf_counter()
refresher.snapshot(at)
figures["evaluation with every model fit"] = time.perf_counter() - started
started = time.perf_counter()
again = Refresher(config, StateDir(state_path))
again.snapshot(at)
figures["restart to first snapshot"] = time.perf_counter() - started
figures["rows held"] = len(refresher.data["billing"].frame)
print(json.dumps(figures))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--budgets", type=int, default=2000)
    parser.add_argument("--baseline", help="an exporter/ folder with the reader to compare")
    parser.add_argument("--skip-phases", action="store_true")
    parser.add_argument("--only-phases", action="store_true", help="no `once` comparison")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(json.loads(args.measure))))
        return
    exporter = [
        sys.executable,
        "-c",
        "import sys; from budget_exporter.cli import main; sys.exit(main())",
    ]
    with tempfile.TemporaryDirectory(prefix="ingest-") as scratch:
        folder = Path(scratch)
        print(
            "| rows | file | exporter `once` | peak RSS | DuckDB alone | peak RSS |"
            + (" baseline `once` | peak RSS |" if args.baseline else "")
        )
        print("|---|---|---|---|---|---|" + ("---|---|" if args.baseline else ""))
        phases = []
        for rows in args.rows:
            paths = generate(folder, rows)
            for kind, data in paths.items():
                if args.only_phases and kind != "parquet":
                    continue
                config = write_config(folder, data, 10)
                once = [*exporter, "once", "--config.file", str(config), "--at", AT]
                if args.only_phases:
                    wall, peak = 0.0, 0.0
                else:
                    wall, peak = isolated(once)
                alone = (
                    (0.0, 0.0)
                    if args.only_phases
                    else isolated([sys.executable, "-c", DUCKDB_ALONE, str(data), kind])
                )
                cells = [
                    f"{rows / 1e6:g} M",
                    kind,
                    f"{wall:.1f} s",
                    f"{peak:.0f} MiB",
                    f"{alone[0]:.1f} s",
                    f"{alone[1]:.0f} MiB",
                ]
                if args.baseline:
                    env = {**os.environ, "PYTHONPATH": args.baseline}
                    try:
                        base = isolated(once, env)
                        cells += [f"{base[0]:.1f} s", f"{base[1]:.0f} MiB"]
                    except subprocess.CalledProcessError:
                        cells += ["failed", "-"]
                print("| " + " | ".join(cells) + " |", flush=True)
                if not args.skip_phases and kind == "parquet":
                    many = write_config(folder, data, args.budgets)
                    state = folder / f"state-{rows}"
                    command = [sys.executable, "-c", PHASES, str(many), str(state), AT]
                    result = subprocess.run(command, check=True, capture_output=True, text=True)
                    phases.append((rows, json.loads(result.stdout.strip().splitlines()[-1])))
            for path in paths.values():
                path.unlink()
        for rows, figures in phases:
            print(f"\n{rows / 1e6:g} M rows, Parquet, {args.budgets} budgets:")
            for name, value in figures.items():
                shown = f"{value:.2f} s" if isinstance(value, float) else str(value)
                print(f"- {name}: {shown}")


if __name__ == "__main__":
    main()
