"""Cost files of any size: the exporter's ``once`` against DuckDB alone computing the same sums.

Synthetic FOCUS 1.0 rows (90 days of hourly rows, 50 services, 200 accounts, 8 regions, tags as
JSON, 20 columns) are written as Parquet and CSV.gz, and CUR 2.0 (Data Exports) rows of the same
shape as Parquet (``--formats``), into a scratch folder (never committed, deleted after each
size). Side by side in one run, each a separate process whose wall time and peak RSS are
measured:

- ``once``: ``budget-exporter once --at`` over a config of 10 budgets filtering on ServiceName
  and tags; its ``budget_spend`` of each budget is compared with DuckDB's;
- ``duckdb``: DuckDB alone computing the sums the exporter needs (``DUCKDB_ALONE``: the
  forecasts' 90 days, the exporter's grouping keys, its tag checks), and from them the same
  month-to-date sums per budget;
- ``baseline`` (with ``--baseline SRC``): ``once`` with the package found at SRC, such as an
  earlier checkout's ``exporter/`` folder, for the reader before the engine;
- phases (``--phases``, one process, ``--budgets`` budgets): the first read, a refresh with the
  files unchanged, evaluations until every forecast is fit, a new refresher over the state;
- ``--restart`` (``--budgets`` budgets, processes of their own, FOCUS Parquet): a first start on
  an empty state folder, to its first snapshot and on until every forecast is fit; a restart
  with the file unchanged; a restart after the provider rewrote the file with its last four
  days' costs changed;
- ``--cur-tail`` (one process, CUR 2.0 Parquet): a first read, the read of the export rewritten
  with its last three days changed, and a whole read of it for comparison.

Run: .venv/bin/python bench/ingest.py --rows 1000000 5000000 [--baseline /path/to/exporter]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVICES = 50
ACCOUNTS = 200
AT = "2024-03-31T00:00:00+00:00"


def focus_select(rows: int) -> str:
    """SQL of ``rows`` synthetic FOCUS rows."""
    hours = 90 * 24
    return f"""
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


def cur_select(rows: int) -> str:
    """SQL of ``rows`` synthetic CUR 2.0 rows (Data Exports column names and types)."""
    hours = 90 * 24
    return f"""
        SELECT
            'id-' || i AS identity_line_item_id,
            'payer-1' AS bill_payer_account_id,
            date_trunc('month', start) AS bill_billing_period_start_date,
            CASE WHEN start < TIMESTAMPTZ '2024-03-01 00:00:00+00'
                THEN 'INV-' || strftime(start, '%Y%m') ELSE '' END AS bill_invoice_id,
            lpad(CAST((i // 7) % {ACCOUNTS} AS VARCHAR), 12, '0') AS line_item_usage_account_id,
            CASE WHEN i % 991 = 0 THEN 'Tax' WHEN i % 997 = 0 THEN 'Credit' ELSE 'Usage' END
                AS line_item_line_item_type,
            start AS line_item_usage_start_date,
            start + INTERVAL 1 HOUR AS line_item_usage_end_date,
            'service-' || (i % {SERVICES}) AS line_item_product_code,
            'usage-' || (i % 500) AS line_item_usage_type,
            'RunInstances' AS line_item_operation,
            'resource-' || i AS line_item_resource_id,
            hash(i) % 100 AS line_item_usage_amount,
            CASE WHEN i % 997 = 0 AND i % 991 <> 0 THEN -1 ELSE 1 END
                * round(((hash(i) % 10000) / 1000.0), 4) AS line_item_unblended_cost,
            round(((hash(i) % 10000) / 1000.0), 4) AS line_item_blended_cost,
            'USD' AS line_item_currency_code,
            'line item ' || i AS line_item_line_item_description,
            'region-' || (i % 8) AS product_region_code,
            round(((hash(i) % 10000) / 900.0), 4) AS pricing_public_on_demand_cost,
            MAP {{'user_team': 'team-' || (i % 20),
                 'user_env': CASE WHEN i % 3 = 0 THEN 'prod' ELSE 'dev' END}} AS resource_tags
        FROM (
            SELECT i, TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_hours(i % {hours}) AS start
            FROM range({rows}) t(i)
        )
    """


def generate(folder: Path, rows: int, formats: list[str]) -> dict[str, Path]:
    """The files of ``rows`` synthetic rows in each of ``formats``."""
    import duckdb

    paths = {}
    connection = duckdb.connect(config={"threads": 2})
    connection.sql("SET TimeZone = 'UTC'")
    if "parquet" in formats or "csv.gz" in formats:
        paths["parquet"] = folder / "focus.parquet"
        connection.sql(f"COPY ({focus_select(rows)}) TO '{paths['parquet']}' (FORMAT parquet)")
    if "csv.gz" in formats:
        paths["csv.gz"] = folder / "focus.csv.gz"
        connection.sql(
            "COPY (SELECT * REPLACE (strftime(ChargePeriodStart, '%Y-%m-%dT%H:%M:%SZ') AS "
            "ChargePeriodStart, strftime(ChargePeriodEnd, '%Y-%m-%dT%H:%M:%SZ') AS "
            f"ChargePeriodEnd) FROM read_parquet('{paths['parquet']}')) TO '{paths['csv.gz']}' "
            "(FORMAT csv, HEADER, COMPRESSION gzip)"
        )
    if "cur" in formats:
        paths["cur"] = folder / "cur.parquet"
        connection.sql(f"COPY ({cur_select(rows)}) TO '{paths['cur']}' (FORMAT parquet)")
    connection.close()
    if "parquet" not in formats and "parquet" in paths:  # written only to make the CSV
        paths.pop("parquet").unlink()
    return paths


def rewrite_tail(
    path: Path, start: str = "ChargePeriodStart", cost: str = "BilledCost", days: int = 4
) -> None:
    """The provider's daily rewrite of a Parquet bill: the last ``days`` days' costs 1% up."""
    import duckdb

    changed = path.with_name("rewritten.parquet")
    connection = duckdb.connect()
    connection.sql("SET TimeZone = 'UTC'")
    connection.sql(
        f"COPY (SELECT * REPLACE (CASE WHEN {start} >= TIMESTAMPTZ '2024-03-31 00:00:00+00' "
        f"- INTERVAL {days} DAY THEN round({cost} * 1.01, 4) ELSE {cost} END "
        f"AS {cost}) FROM read_parquet('{path}')) TO '{changed}' (FORMAT parquet)"
    )
    connection.close()
    os.replace(changed, path)


# A CUR provider in one process: the first (whole) read, the same read after the export was
# rewritten with its last three days changed (the unsettled ones with the default
# settlement_lag), read from the unsettled days, and a whole read of the rewritten file by a
# provider with an empty state folder, whose groups must be the same.
CUR_TAIL = """
import json, sys, time
from datetime import datetime, timedelta
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from ingest import rewrite_tail
from budget_exporter.providers.base import ProviderContext
from budget_exporter.providers.cost.aws_cur import AwsCurConfig, AwsCurProvider
path, state, at = Path(sys.argv[1]), sys.argv[2], datetime.fromisoformat(sys.argv[3])
config = AwsCurConfig.model_validate({"type": "aws_cur", "paths": [str(path)]})
wanted = frozenset({"ServiceName", "tags.team", "tags.owner"})
def provider(folder):
    context = ProviderContext("UTC", "USD", str(path.parent), cache_dir=folder, dimensions=wanted)
    return AwsCurProvider("billing", config, context)
figures = {}
source = provider(state)
started = time.perf_counter()
source.fetch(at)
figures["first read (whole file)"] = time.perf_counter() - started
rewrite_tail(path, "line_item_usage_start_date", "line_item_unblended_cost", days=3)
started = time.perf_counter()
tail = source.fetch(at + timedelta(hours=2))
figures["read after the rewrite (unsettled days)"] = time.perf_counter() - started
started = time.perf_counter()
whole = provider(state + "-other").fetch(at + timedelta(hours=2))
figures["whole read of the rewritten file"] = time.perf_counter() - started
columns = sorted(whole.frame.columns)
same = tail.frame[columns].astype(object).equals(whole.frame[columns].astype(object))
figures["same groups"] = bool(same and tail.data_end == whole.data_end)
print(json.dumps(figures))
"""


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


def write_config(folder: Path, data: Path, count: int, kind: str = "parquet") -> Path:
    provider = "aws_cur" if kind == "cur" else "focus"
    config = {
        "timezone": "UTC",
        "currency": "USD",
        "providers": {"billing": {"type": provider, "paths": [str(data)]}},
        "budgets": budgets(count),
    }
    path = folder / f"config-{data.name}-{count}.yml"
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    return path


def measure(command: list[str], output: str = "") -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process; its stdout to ``output``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    with open(output or os.devnull, "wb") as out:
        subprocess.run(command, check=True, stdout=out)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest so far: run each measure in a fresh process.
    return wall, max(peak, before) / 1024


def isolated(
    command: list[str], env: dict[str, str] | None = None, output: Path | None = None
) -> tuple[float, float]:
    """``measure`` in a fresh process of its own, so each peak RSS is its own."""
    wrapper = [sys.executable, __file__, "--measure", json.dumps([command, str(output or "")])]
    result = subprocess.run(wrapper, check=True, capture_output=True, text=True, env=env).stdout
    wall, peak = json.loads(result.strip().splitlines()[-1])
    return float(wall), float(peak)


def median(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """The median wall time and the median peak RSS of some runs."""
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def exported_spend(path: Path) -> dict[str, float]:
    """``budget_spend`` of each budget in an exposition."""
    spend = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("budget_spend{"):
            labels, value = line.rsplit(" ", 1)
            name = labels.split('budget="', 1)[1].split('"', 1)[0]
            spend[name] = float(value)
    return spend


def largest_difference(ours: dict[str, float], theirs: dict[str, float]) -> float:
    """The largest relative difference between two sets of sums (inf if the budgets differ)."""
    if set(ours) != set(theirs):
        return math.inf
    return max(abs(ours[k] - theirs[k]) / max(abs(theirs[k]), 1e-12) for k in theirs)


# DuckDB alone computing what the exporter needs for the same budgets: the forecasts' 90 days
# of history (not only the month), grouped by what the exporter groups by (the hour, its end,
# currency, charge category and frequency, service, the SKU of purchases, the team tag and the
# owner tag, which the owner insights read; for CUR the line item type, currency, invoice state
# and billing period), each FOCUS tag cell checked to be a JSON object (a cell that is not is a
# bad row, kept without tags), and each budget's month to date summed from those groups.
DUCKDB_ALONE = """
import json, sys, duckdb
from datetime import datetime, timedelta
path, source, budgets, at = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
moment = datetime.fromisoformat(at)
month = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
history = moment - timedelta(days=90)
duckdb.sql("SET enable_progress_bar = false")
if source == "cur":
    start, end = "line_item_usage_start_date", "line_item_usage_end_date"
    cost, service = "line_item_unblended_cost", "line_item_product_code"
    team, owner = "resource_tags['user_team']", "resource_tags['user_owner']"
    keys = ("line_item_line_item_type, line_item_currency_code, bill_billing_period_start_date, "
            "coalesce(bill_invoice_id, '') = ''")
    since = f"TIMESTAMP '{history:%Y-%m-%d %H:%M:%S}'"  # CUR times are UTC without an offset
    local = lambda value: value.replace(tzinfo=moment.tzinfo)
else:
    start, end = "CAST(ChargePeriodStart AS TIMESTAMPTZ)", "CAST(ChargePeriodEnd AS TIMESTAMPTZ)"
    cost, service = "CAST(BilledCost AS DOUBLE)", "ServiceName"
    empty = "Tags IS NULL OR trim(Tags) IN ('', 'NULL', 'null')"
    is_object = "coalesce(TRY(json_type(Tags)) = 'OBJECT', false)"
    team, owner = (
        f"CASE WHEN NOT ({empty}) AND {is_object} "
        f"THEN TRY(json_extract_string(Tags, '$.{key}')) END"
        for key in ("team", "owner")
    )
    keys = ("BillingCurrency, lower(ChargeCategory), lower(ChargeFrequency), "
            "CASE WHEN lower(ChargeCategory) = 'purchase' THEN SkuId END, "
            f"NOT ({empty} OR {is_object}) AS bad_tags")
    since = f"TIMESTAMPTZ '{history.isoformat()}'"
    local = lambda value: value
reader = f"read_csv('{path}', header=true)" if source == "csv.gz" else f"read_parquet('{path}')"
duckdb.sql("SET TimeZone = 'UTC'")
groups = duckdb.sql(
    f"SELECT {service} AS service, {team} AS team, {start} AS start, {end}, {owner}, {keys}, "
    f"sum({cost}) AS cost FROM {reader} WHERE {start} >= {since} GROUP BY ALL"
).fetchall()
sums = {}
for budget in budgets:
    wanted = budget["filter"]
    sums[budget["name"]] = sum(
        row[-1] for row in groups
        if wanted.get("ServiceName", row[0]) == row[0]
        and wanted.get("tags.team", row[1]) == row[1]
        and month <= local(row[2]) < moment
    )
print(json.dumps(sums))
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
figures["restart to first snapshot (a new refresher, same state folder)"] = (
    time.perf_counter() - started
)
figures["fits of that snapshot"] = again.forecasts.fits
figures["rows held"] = len(refresher.data["billing"].frame)
print(json.dumps(figures))
"""

# What a server does at a start, timed from the process's start (imports included): take the
# state folder, refresh the providers that are due, evaluate and render; then, on a first
# start, evaluate on until no forecast waits (the server's next evaluations).
START = """
import time
began = time.perf_counter()
import json, sys
from datetime import datetime, timedelta
from budget_exporter.config.loader import load_config
from budget_exporter.metrics.exposition import render
from budget_exporter.service.refresh import Refresher
from budget_exporter.service.state import StateDir
config_path, state_path = sys.argv[1], sys.argv[2]
at = datetime.fromisoformat(sys.argv[3])
config = load_config(config_path)
imported = time.perf_counter() - began
refresher = Refresher(config, StateDir(state_path))
provider = refresher.providers["billing"]
parses = []
parse = provider.parse_file
def counted(path, now, since=None):
    parses.append("tail" if since is not None else "whole")
    return parse(path, now, since)
provider.parse_file = counted
started = time.perf_counter()
refresher.refresh(at, refresher.due(at))
refreshed = time.perf_counter() - started
started = time.perf_counter()
snapshot = refresher.snapshot(at)
render(snapshot)
evaluated = time.perf_counter() - started
first = time.perf_counter() - began
figures = {
    "imports and config": imported,
    "refresh": refreshed,
    "reads": ", ".join(parses) or "none",
    "first evaluation and rendering": evaluated,
    "fits in it": refresher.forecasts.fits,
    "forecasts waiting": len(snapshot.forecasts_waiting),
    "to first snapshot": first,
}
evaluations = 1
while snapshot.forecasts_waiting:
    snapshot = refresher.snapshot(at)
    evaluations += 1
if evaluations > 1:
    figures["to every forecast"] = time.perf_counter() - began
    figures["evaluations"] = evaluations
print(json.dumps(figures))
"""


def restart_phase(folder: Path, data: Path, count: int) -> list[tuple[str, dict, float]]:
    """A first start, a restart with the file unchanged, a restart after a rewrite."""
    config = write_config(folder, data, count)
    state = folder / f"state-restart-{data.stat().st_size}"
    runs = []
    for name, moment in (
        ("first start, empty state folder", datetime_at(0)),
        ("restart, file unchanged", datetime_at(2)),
        ("restart, file rewritten (last four days changed)", datetime_at(4)),
    ):
        if name.startswith("restart, file rewritten"):
            rewrite_tail(data)
        output = folder / "start.json"
        command = [sys.executable, "-c", START, str(config), str(state), moment]
        _, peak = isolated(command, output=output)
        runs.append((name, json.loads(output.read_text().strip().splitlines()[-1]), peak))
    return runs


def datetime_at(hours: int) -> str:
    """``AT`` plus ``hours``: later than the last refresh by more than the refresh interval."""
    from datetime import datetime, timedelta

    return (datetime.fromisoformat(AT) + timedelta(hours=hours)).isoformat()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument(
        "--formats", nargs="+", default=["parquet", "csv.gz"], choices=["parquet", "csv.gz", "cur"]
    )
    parser.add_argument("--budgets", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; medians shown")
    parser.add_argument("--baseline", help="an exporter/ folder with the reader to compare")
    parser.add_argument("--phases", action="store_true", help="the in-process phases too")
    parser.add_argument("--restart", action="store_true", help="the restart processes too")
    parser.add_argument("--cur-tail", action="store_true", help="a changed CUR file's read too")
    parser.add_argument("--no-once", action="store_true", help="no `once` comparison")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        command, output = json.loads(args.measure)
        print(json.dumps(measure(command, output)))
        return
    exporter = [
        sys.executable,
        "-c",
        "import sys; from budget_exporter.cli import main; sys.exit(main())",
    ]
    with tempfile.TemporaryDirectory(prefix="ingest-") as scratch:
        folder = Path(scratch)
        print(
            "| rows | file | exporter `once` | peak RSS | DuckDB alone | peak RSS | ratio | sums |"
            + (" baseline `once` | peak RSS |" if args.baseline else ""),
            flush=True,
        )
        print("|---|---|---|---|---|---|---|---|" + ("---|---|" if args.baseline else ""))
        phases, restarts, tails = [], [], []
        for rows in args.rows:
            paths = generate(folder, rows, args.formats)
            for kind, data in paths.items():
                if not args.no_once:
                    config = write_config(folder, data, 10, kind)
                    once = [*exporter, "once", "--config.file", str(config), "--at", AT]
                    exposition = folder / "once.prom"
                    alone_out = folder / "alone.json"
                    duck = [sys.executable, "-c", DUCKDB_ALONE, str(data), kind]
                    duck += [json.dumps(budgets(10)), AT]
                    ours, theirs, before = [], [], []
                    env = {**os.environ, "PYTHONPATH": args.baseline or ""}
                    for _ in range(args.repeat):  # alternating, so load hits all alike
                        ours.append(isolated(once, output=exposition))
                        theirs.append(isolated(duck, output=alone_out))
                        if args.baseline:
                            with contextlib.suppress(subprocess.CalledProcessError):
                                before.append(isolated(once, env))
                    wall, peak = median(ours)
                    alone = median(theirs)
                    difference = largest_difference(
                        exported_spend(exposition),
                        json.loads(alone_out.read_text().strip().splitlines()[-1]),
                    )
                    cells = [
                        f"{rows / 1e6:g} M",
                        "CUR 2.0 Parquet" if kind == "cur" else f"FOCUS {kind}",
                        f"{wall:.2f} s",
                        f"{peak:.0f} MiB",
                        f"{alone[0]:.2f} s",
                        f"{alone[1]:.0f} MiB",
                        f"{wall / alone[0]:.1f}x",
                        "identical" if difference < 1e-9 else f"differ by {difference:.2g}",
                    ]
                    if args.baseline and before:
                        base = median(before)
                        cells += [f"{base[0]:.2f} s", f"{base[1]:.0f} MiB"]
                    elif args.baseline:
                        cells += ["failed", "-"]
                    print("| " + " | ".join(cells) + " |", flush=True)
                if args.phases and kind == "parquet":
                    many = write_config(folder, data, args.budgets)
                    state = folder / f"state-{rows}"
                    command = [sys.executable, "-c", PHASES, str(many), str(state), AT]
                    result = subprocess.run(command, check=True, capture_output=True, text=True)
                    phases.append((rows, json.loads(result.stdout.strip().splitlines()[-1])))
                if args.restart and kind == "parquet":
                    restarts.append((rows, restart_phase(folder, data, args.budgets)))
                if args.cur_tail and kind == "cur":
                    state = str(folder / f"state-cur-{rows}")
                    bench = str(Path(__file__).resolve().parent)
                    command = [sys.executable, "-c", CUR_TAIL, str(data), state, AT, bench]
                    result = subprocess.run(command, check=True, capture_output=True, text=True)
                    tails.append((rows, json.loads(result.stdout.strip().splitlines()[-1])))
            for path in paths.values():
                path.unlink(missing_ok=True)
        for rows, figures in phases:
            print(f"\n{rows / 1e6:g} M rows, Parquet, {args.budgets} budgets:")
            for name, value in figures.items():
                shown = f"{value:.2f} s" if isinstance(value, float) else str(value)
                print(f"- {name}: {shown}")
        for rows, figures in tails:
            print(f"\n{rows / 1e6:g} M rows, CUR 2.0 Parquet, a changed export:")
            for name, value in figures.items():
                shown = f"{value:.2f} s" if isinstance(value, float) else str(value)
                print(f"- {name}: {shown}")
        for rows, runs in restarts:
            print(f"\n{rows / 1e6:g} M rows, FOCUS Parquet, {args.budgets} budgets, restarts:")
            for name, figures, peak in runs:
                shown = ", ".join(
                    f"{key} {value:.2f} s" if isinstance(value, float) else f"{key} {value}"
                    for key, value in figures.items()
                )
                print(f"- {name}: {shown}, peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
