"""The commands that answer without evaluating load no frame, maths or provider code.

``admit`` and ``report`` read the snapshot a running exporter published, and a config is
validated by each provider's settings alone: none of them needs pandas, NumPy, pyarrow, DuckDB,
SciPy, an SDK or an HTTP client, and each of those costs a launcher's every call a noticeable
part of a second. Each case runs the real command in a fresh interpreter and reads what it
imported (bench/README.md, "Command-line start-up", has the times).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from budget_exporter.config.loader import load_config
from budget_exporter.providers.registry import COST_PROVIDERS, INCIDENT_PROVIDERS
from budget_exporter.providers.settings import COST_SETTINGS, INCIDENT_SETTINGS
from budget_exporter.service.wsgi import ExporterService
from conftest import ROOT

# Libraries only reading provider data, fitting forecasts or calling a provider's API needs.
HEAVY = ("pandas", "numpy", "pyarrow", "duckdb", "scipy", "statsmodels", "requests", "urllib3")
SDKS = ("botocore", "boto3", "google", "azure")
AT = "2026-04-16T00:00:00Z"
CONFIG = """\
providers:
  costs: {type: csv, paths: [costs.csv], dimensions: [ServiceName]}
budgets:
  - {name: team, amount: 400, period: monthly}
"""
# Every provider type, each with the fewest settings it accepts; none is ever fetched here.
EVERY_TYPE = """\
providers:
  focus: {type: focus, paths: [focus/*.csv]}
  csv: {type: csv, paths: [costs.csv]}
  demo: {type: demo}
  gcp: {type: gcp_bigquery, table: project.billing.gcp_billing_export_v1_0}
  azure: {type: azure_cost_management, scope: /subscriptions/0, tenant_id: t, client_id: c,
          client_secret: s}
  databricks: {type: databricks, host: "https://example.cloud.databricks.com",
               warehouse_id: abc123, token: t}
  opencost: {type: opencost}
  explorer: {type: aws_cost_explorer}
  cur: {type: aws_cur, paths: [cur/*.parquet]}
  athena: {type: aws_athena, database: cur, table: cur_table}
  incidents: {type: incidents_file, paths: [incidents.yaml]}
  pagerduty: {type: pagerduty, token: t}
  statuspage: {type: statuspage, url: "https://status.example.com"}
  opsgenie: {type: opsgenie, api_key: k}
  demo_incidents: {type: demo_incidents}
budgets:
  - {name: team, amount: 400, period: monthly, provider: csv}
slos:
  - {name: api, objective: 99.9, window: 30d, provider: incidents}
"""

# Runs the command as the console script does, then reports its exit code and the package's
# and third-party modules it imported.
PROBE = """\
import json, sys
from budget_exporter.cli.commands import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
sys.stdout.flush()
print("\\n" + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def run(*args: str) -> tuple[int, str, set[str]]:
    """Exit code, what the command printed, and every module it imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True
    )
    printed, _, last = done.stdout.rstrip("\n").rpartition("\n")
    result = json.loads(last)
    return result["code"], printed, set(result["modules"])


def loaded(modules: set[str], roots: tuple[str, ...]) -> list[str]:
    return sorted(name for name in modules if name.split(".")[0] in roots)


@pytest.fixture
def published(tmp_path: Path) -> tuple[Path, Path]:
    """A CSV provider with 10 a day from April 1 to 15, 2026, its snapshot published as of AT."""
    rows = [f"2026-04-{day:02d},10,EC2" for day in range(1, 16)]
    (tmp_path / "costs.csv").write_text("date,cost,ServiceName\n" + "\n".join(rows) + "\n")
    config = tmp_path / "config.yml"
    config.write_text(CONFIG)
    state = tmp_path / "state"
    service = ExporterService(load_config(str(config)), state)
    service.step(datetime.fromisoformat(AT), datetime.min.replace(tzinfo=UTC))
    return config, state


@pytest.mark.parametrize(
    ("command", "code", "answer"),
    [
        (["admit", "--budget", "team", "--amount", "50"], 0, "admit: 50.00 USD fits"),
        (["admit", "--budget", "team", "--amount", "250.01"], 1, "reject: 250.01 USD"),
        (["report", "--budget", "team"], 0, "spend     150.00 / 400.00 USD"),
        (["report", "--format", "csv"], 0, "budget,team,2026-04"),
    ],
    ids=[
        "admit saying yes",
        "admit saying no",
        "the text report of one budget",
        "the csv report of everything",
    ],
)
def test_admit_and_report_from_the_published_snapshot_load_no_frame_maths_or_client(
    published, command, code, answer
):
    config, state = published
    exit_code, printed, modules = run(
        *command, "--config.file", str(config), "--state.dir", str(state)
    )
    assert (exit_code, answer in printed) == (code, True), printed
    assert "budget_exporter.config.loader" in modules  # the config was loaded and validated
    assert loaded(modules, HEAVY + SDKS) == []
    # Nor the evaluation or the maths the snapshot already holds the results of.
    assert sorted(m for m in modules if m.startswith("budget_exporter.evaluation")) == []
    assert "budget_exporter.money.forecast" not in modules
    assert "budget_exporter.money.budgets" not in modules


def test_a_config_naming_every_provider_type_validates_without_their_code(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text(EVERY_TYPE)
    code = (
        "import sys\n"
        "from budget_exporter.config.loader import load_config\n"
        f"config = load_config({str(config)!r})\n"
        "print(len({type(p) for p in config.providers.values()}))\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, *modules = done.stdout.split()
    assert int(count) == len(COST_SETTINGS) + len(INCIDENT_SETTINGS) == 15
    assert loaded(set(modules), HEAVY + SDKS) == []
    providers = [m for m in modules if m.startswith("budget_exporter.providers.")]
    assert providers  # the settings did load
    implementations = [m for m in providers if not _is_settings(m.split(".", 1)[1])]
    assert implementations == [], "validating loaded providers' code"


def test_check_of_an_invalid_config_answers_before_loading_any_provider(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text(CONFIG.replace("period: monthly", "period: fortnightly"))
    exit_code, _, modules = run("check", "--config.file", str(config))
    assert exit_code == 2
    assert loaded(modules, HEAVY + SDKS) == []


def test_check_of_a_valid_config_reads_its_provider_but_fits_no_forecast(published):
    config, _ = published
    exit_code, printed, modules = run("check", "--config.file", str(config))
    assert exit_code == 0
    assert "provider costs (csv): ok, 15 rows from 1 source(s), 0 bad row(s)" in printed
    assert "pandas" in modules  # reading the CSV does need it
    assert loaded(modules, ("scipy", "statsmodels")) == []


def test_version_loads_no_config_library():
    exit_code, printed, modules = run("--version")
    assert (exit_code, printed.startswith("budget-exporter ")) == (0, True)
    assert loaded(modules, ("pydantic", "yaml", *HEAVY, *SDKS)) == []


def test_each_provider_type_has_its_settings_and_its_provider_under_one_name():
    settings = {**COST_SETTINGS, **INCIDENT_SETTINGS}
    providers = {**COST_PROVIDERS, **INCIDENT_PROVIDERS}
    assert set(COST_SETTINGS) == set(COST_PROVIDERS)
    assert set(INCIDENT_SETTINGS) == set(INCIDENT_PROVIDERS)
    for name, provider in providers.items():
        assert provider.type_name == name
        assert provider.config_model is settings[name], name
        assert settings[name].model_fields["type"].annotation.__args__ == (name,)


PROVIDERS = ROOT / "exporter" / "budget_exporter" / "providers"


def _is_settings(module: str) -> bool:
    """Whether a module of ``providers`` (``cost.focus_config``) holds settings only."""
    last = module.rsplit(".", 1)[-1]
    return last in ("providers", "cost", "incidents", "support", "settings") or last.endswith(
        "_config"
    )


SETTINGS_MODULES = sorted(
    path
    for path in PROVIDERS.rglob("*.py")
    if path.stem == "settings" or path.stem.endswith("_config")
)


@pytest.mark.parametrize("path", SETTINGS_MODULES, ids=lambda path: path.stem)
def test_settings_modules_import_only_settings_and_the_model(path: Path):
    # What keeps the config lean: a settings module importing a provider's own module would
    # bring pandas or a client back into every command.
    tree = ast.parse(path.read_text(encoding="utf-8"))
    relative = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level]
    package = path.parent.relative_to(PROVIDERS.parent).parts  # ("providers", "cost")
    wrong = []
    for node in relative:
        target = [*package[: len(package) - node.level + 1], *(node.module or "").split(".")]
        if target[0] == "model":
            continue
        if target[0] != "providers" or not _is_settings(".".join(target)):
            wrong.append(f"line {node.lineno}: {'.'.join(target)}")
    assert not wrong
    third_party = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and not node.level and node.module
    }
    assert third_party <= {"__future__", "datetime", "math", "pathlib", "re", "typing", "pydantic"}
