"""Provider inputs whose exposition must not change when the file reader changes.

Each case writes its data and config into a folder; ``once --at`` over it is compared with the
exposition recorded in ``tests/fixtures/parity/<case>.prom``, recorded by the pandas reader that
came before the columnar engine. ``python tests/parity_cases.py`` records them again.
"""

from __future__ import annotations

import gzip
import shutil
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pandas as pd

from conftest import FOCUS_SAMPLE

GOLDEN = Path(__file__).resolve().parent / "fixtures" / "parity"

# Figures that depend on the run (durations) or on how rows are stored, not on the sums: the
# engine keeps only the dimensions budgets use, so it holds fewer normalized rows.
VOLATILE = (
    "budget_exporter_provider_refresh_duration_seconds",
    "budget_exporter_evaluation_duration_seconds",
    "budget_exporter_provider_rows",
)

FOCUS_BUDGETS = """
breakdown: {dimensions: [ServiceName, ProviderName], top: 3}
budgets:
  - {name: all-cloud, amount: 100, period: monthly, provider: billing}
  - name: sqs
    amount: 0.01
    period: monthly
    provider: billing
    filter: {ServiceName: [Amazon Simple Queue Service]}
  - name: dev-environment
    amount: 5
    period: monthly
    provider: billing
    filter: {tags.environment: dev}
    labels: {team: platform}
  - name: by-account
    amount: 50
    period: weekly
    provider: billing
    filter: {SubAccountName: [Atlas Nimbus]}
    breakdown: {dimensions: [RegionId, tags.application], top: 5}
  - name: usage-only
    amount: 20
    period: daily
    provider: billing
    charges: {purchases: exclude, tax: exclude}
"""


def _config(folder: Path, providers: str, budgets: str) -> Path:
    text = f"timezone: UTC\ncurrency: USD\nproviders:\n{providers}{budgets}"
    path = folder / "config.yml"
    path.write_text(text, encoding="utf-8")
    return path


def focus_csv(folder: Path) -> Path:
    shutil.copy(FOCUS_SAMPLE, folder / "focus.csv")
    return _config(folder, "  billing: {type: focus, paths: [focus.csv]}\n", FOCUS_BUDGETS)


def focus_gzip_effective(folder: Path) -> Path:
    with open(FOCUS_SAMPLE, "rb") as source, gzip.open(folder / "focus.csv.gz", "wb") as target:
        shutil.copyfileobj(source, target)
    providers = "  billing: {type: focus, paths: ['*.csv.gz'], cost_column: EffectiveCost}\n"
    return _config(folder, providers, FOCUS_BUDGETS)


def focus_parquet(folder: Path) -> Path:
    frame = pd.read_csv(FOCUS_SAMPLE, na_values=["NULL"], keep_default_na=False)
    for column in ("ChargePeriodStart", "ChargePeriodEnd"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame.to_parquet(folder / "focus.parquet", index=False)
    return _config(folder, "  billing: {type: focus, paths: [focus.parquet]}\n", FOCUS_BUDGETS)


CSV_LINES = [
    "Date,Cost,Currency,Service,Team,Kind",
    "2024-10-30,12.5,USD,compute,web,usage",
    "2024-10-31,7.25,USD,storage,web,usage",
    "2024-11-01,100,USD,support,,fee",
    "2024-11-01,11,USD,compute,web,usage",
    "2024-11-01,3.5,EUR,compute,api,usage",
    "2024-11-02,not-a-number,USD,compute,web,usage",
    '2024-11-02,"1,204.75",USD,compute,api,usage',
    "2024-11-03,9,,storage,api,usage",
    "someday,4,USD,storage,api,usage",
    "2024-11-03,-2.5,USD,compute,web,credit",
    "2024-11-04,6,USD,storage,NULL,tax",
    "2024-11-05,8,USD,compute,web,usage",
]


def csv_daily(folder: Path) -> Path:
    (folder / "costs.csv").write_text("\n".join(CSV_LINES) + "\n", encoding="utf-8")
    providers = (
        "  costs:\n    type: csv\n    paths: [costs.csv]\n    date_column: Date\n"
        "    cost_column: Cost\n    currency_column: Currency\n    category_column: Kind\n"
        "    timezone: Europe/Paris\n"
        "    dimensions: {ServiceName: Service, tags.team: Team}\n"
    )
    budgets = """exchange_rates: {EUR: 1.1}
budgets:
  - {name: all, amount: 2000, period: monthly, provider: costs}
  - name: web
    amount: 100
    period: monthly
    provider: costs
    filter: {tags.team: web}
    breakdown: {dimensions: [ServiceName], top: 2}
  - {name: compute, amount: 50, period: weekly, provider: costs, filter: {ServiceName: compute}}
"""
    return _config(folder, providers, budgets)


CUR_BUDGETS = """
breakdown: {dimensions: [ServiceName, x_LineItemType], top: 5}
budgets:
  - {name: aws, amount: 2000, period: monthly, provider: cur}
  - {name: team-web, amount: 10, period: monthly, provider: cur, filter: {tags.team: web}}
  - name: ec2
    amount: 1500
    period: monthly
    provider: cur
    filter: {ServiceName: Amazon Elastic Compute Cloud}
    breakdown: {dimensions: [SubAccountId, RegionId], top: 3}
"""


def cur_parquet_amortized(folder: Path) -> Path:
    from test_aws_cur import LINE_ITEMS, write_parquet

    write_parquet(folder / "cur/data.parquet", LINE_ITEMS)
    providers = "  cur: {type: aws_cur, paths: ['cur/*.parquet'], cost: amortized}\n"
    return _config(folder, providers, CUR_BUDGETS)


def cur_parquet_unblended(folder: Path) -> Path:
    from test_aws_cur import LINE_ITEMS, write_parquet

    write_parquet(folder / "cur/data.parquet", LINE_ITEMS)
    return _config(folder, "  cur: {type: aws_cur, paths: ['cur/*.parquet']}\n", CUR_BUDGETS)


def cur_legacy_csv_gzip(folder: Path) -> Path:
    from test_aws_cur import LEGACY_ROWS, write_legacy_csv

    write_legacy_csv(folder / "cur/cur-00001.csv.gz", LEGACY_ROWS)
    providers = "  cur: {type: aws_cur, paths: ['cur/*.csv.gz'], cost: net_unblended}\n"
    return _config(folder, providers, CUR_BUDGETS)


CASES: dict[str, tuple[Callable[[Path], Path], datetime]] = {
    "focus_csv": (focus_csv, datetime.fromisoformat("2024-09-30T23:30:00+00:00")),
    "focus_gzip_effective": (
        focus_gzip_effective,
        datetime.fromisoformat("2024-09-30T23:30:00+00:00"),
    ),
    "focus_parquet": (focus_parquet, datetime.fromisoformat("2024-09-30T23:30:00+00:00")),
    "csv_daily": (csv_daily, datetime.fromisoformat("2024-11-06T00:00:00+00:00")),
    "cur_parquet_amortized": (
        cur_parquet_amortized,
        datetime.fromisoformat("2026-03-20T12:00:00+00:00"),
    ),
    "cur_parquet_unblended": (
        cur_parquet_unblended,
        datetime.fromisoformat("2026-03-20T12:00:00+00:00"),
    ),
    "cur_legacy_csv_gzip": (
        cur_legacy_csv_gzip,
        datetime.fromisoformat("2026-03-20T12:00:00+00:00"),
    ),
}


# Families added after the recording, with their HELP and TYPE lines.
ADDED = (
    "budget_exporter_forecasts_waiting",
    "budget_exporter_provider_suspect",
    "budget_default_alert_threshold_ratio",
)


def stable_lines(exposition: str) -> list[str]:
    """The exposition without the figures of ``VOLATILE`` and the families of ``ADDED``."""
    return [
        line
        for line in exposition.splitlines()
        if not line.startswith(VOLATILE)
        and not line.removeprefix("# HELP ").removeprefix("# TYPE ").startswith(ADDED)
    ]


def run_once(config: Path, at: datetime) -> tuple[int, str]:
    """``budget-exporter once --at`` as the command runs it; its exit code and exposition."""
    import subprocess

    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from budget_exporter.cli import main; sys.exit(main())",
            "once",
            "--config.file",
            str(config),
            "--at",
            at.isoformat(),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    return result.returncode, result.stdout


if __name__ == "__main__":
    import tempfile

    for name, (make, at) in CASES.items():
        with tempfile.TemporaryDirectory() as folder:
            code, text = run_once(make(Path(folder)), at)
        lines = [f"# exit {code}", *stable_lines(text)]
        (GOLDEN / f"{name}.prom").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(name, code, len(text))
