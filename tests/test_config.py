"""Config validation: one fixture per kind of error under tests/conffiles/, each with a clear
message naming the file, the key path and the line; and the ``check`` command's exit codes."""

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from budget_exporter.cli.commands import EXIT_BAD_CONFIG, EXIT_OK, EXIT_PROVIDER_FAILED, main
from budget_exporter.config.hierarchy import allocation_warnings, children_limit
from budget_exporter.config.loader import load_config, parse_config
from budget_exporter.config.schema import DEFAULT_THRESHOLDS
from budget_exporter.model.errors import ConfigError, ConfigProblem
from budget_exporter.model.fields import read_secret

CONFFILES = Path(__file__).resolve().parent / "conffiles"
SECRET = "s3cr3t-token-value"


def problems_of(name: str) -> list[ConfigProblem]:
    """The problems that loading ``conffiles/<name>`` reports."""
    with pytest.raises(ConfigError) as caught:
        load_config(CONFFILES / name)
    return caught.value.problems


@pytest.mark.parametrize(
    ("fixture", "path", "line", "message"),
    [
        ("unknown_key.yml", "budgets[0].thresold", 9, "unknown key (check its spelling)"),
        ("missing_key.yml", "budgets[1].period", 8, "required key is missing"),
        ("wrong_type.yml", "budgets[2].amount", 8, "valid number"),
        ("negative_amount.yml", "budgets[2].amount", 8, "greater than 0"),
        (
            "bad_period.yml",
            "budgets[0].period",
            7,
            "Input should be 'daily', 'weekly', 'monthly', 'quarterly', 'yearly'",
        ),
        ("bad_duration.yml", "refresh_interval", 2, "invalid duration '1 hour'"),
        ("invalid_timezone.yml", "timezone", 2, "unknown time zone 'Europe/Pariss'"),
        ("unknown_provider_type.yml", "providers.billing.type", 4, "unknown provider type 'fokus'"),
        (
            "unknown_provider_reference.yml",
            "budgets[1].provider",
            9,
            "unknown provider 'biling'; defined: billing",
        ),
        (
            "duplicate_budget_name.yml",
            "budgets[2].name",
            7,
            "duplicate budget name 'platform' (also budgets[0])",
        ),
        ("unknown_parent.yml", "budgets[1].parent", 9, "unknown parent budget 'organisation'"),
        (
            "hierarchy_cycle.yml",
            "budgets[1].parent",
            6,
            "budget hierarchy has a cycle: a -> b -> c -> a",
        ),
        ("reserved_label.yml", "budgets[0].labels", 8, "label 'budget' is reserved"),
        (
            "invalid_label_name.yml",
            "budgets[0].labels",
            8,
            "'cost-center' is not a valid Prometheus label name",
        ),
        ("threshold_out_of_range.yml", "budgets[0].thresholds", 8, "threshold warning=90.0"),
        (
            "missing_env_var.yml",
            "providers.billing.paths[0]",
            5,
            "environment variable BUDGET_EXPORTER_TEST_UNSET is not set",
        ),
        ("invalid_yaml.yml", "", 7, "invalid YAML"),
        ("not_a_mapping.yml", "", 1, "the config must be a mapping of keys"),
        ("duplicate_key.yml", "budgets[0].amount", 8, "key given twice"),
        ("provider_without_type.yml", "providers.billing.type", 3, "required key is missing"),
    ],
    ids=[
        "a misspelt key is an unknown key",
        "a budget without a period misses a required key",
        "an amount in words is the wrong type",
        "a negative amount is refused",
        "an unknown period lists the known ones",
        "a duration in words is refused",
        "a misspelt time zone is refused",
        "a misspelt provider type is refused",
        "a budget naming an undefined provider is refused",
        "a budget name used twice is refused",
        "a parent that is not a budget is refused",
        "a hierarchy cycle is reported once",
        "a label the exporter sets itself is reserved",
        "a label name with a dash is invalid",
        "a threshold above 10 is out of range",
        "a missing environment variable is named",
        "broken YAML gives its line",
        "a list at the top level is refused",
        "a key given twice is refused rather than the last one winning",
        "a provider without a type misses a required key",
    ],
)
def test_each_config_error_names_file_key_path_and_line(monkeypatch, fixture, path, line, message):
    monkeypatch.delenv("BUDGET_EXPORTER_TEST_UNSET", raising=False)
    (problem,) = problems_of(fixture)
    file = str(CONFFILES / fixture)
    assert (problem.file, problem.path, problem.line) == (file, path, line)
    assert message in problem.message
    where = f"{path}: " if path else "<top level>: "
    assert str(problem) == f"{file}:{line}: {where}{problem.message}"


@pytest.mark.parametrize(
    "fixture",
    ["unknown_provider_type.yml", "provider_without_type.yml"],
    ids=["a misspelt type lists the known types", "a missing type lists the known types"],
)
def test_the_provider_type_error_lists_the_known_types(fixture):
    (problem,) = problems_of(fixture)
    assert "known types: " in problem.message
    for known in ("csv", "demo", "focus"):
        assert known in problem.message.split("known types: ")[1].split(", ")


@pytest.mark.parametrize(
    ("parents", "expected"),
    [
        ({"a": "a"}, [("budgets[0].parent", "budget hierarchy has a cycle: a -> a")]),
        (
            {"a": "b", "b": "a", "c": "a"},
            [("budgets[0].parent", "budget hierarchy has a cycle: a -> b -> a")],
        ),
        ({"a": None, "b": "a", "c": "b", "d": "c"}, []),
    ],
    ids=[
        "a budget that is its own parent is a cycle",
        "a two-budget cycle is reported once, not for the child hanging from it",
        "a chain of four levels is fine",
    ],
)
def test_the_hierarchy_is_checked_for_cycles(parents, expected):
    lines = ["providers: {demo: {type: demo}}", "budgets:"]
    for name, parent in parents.items():
        extra = f", parent: {parent}" if parent else ""
        lines.append(f"  - {{name: {name}, amount: 10, period: monthly{extra}}}")
    text = "\n".join(lines) + "\n"
    if not expected:
        assert len(parse_config(text).budgets) == len(parents)
        return
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert [(p.path, p.message) for p in caught.value.problems] == expected


def test_a_key_overriding_a_yaml_merge_is_not_a_duplicate():
    text = (
        "providers: {demo: {type: demo}}\n"
        "budgets:\n"
        "  - &base {name: a, amount: 10, period: monthly}\n"
        "  - <<: *base\n"
        "    name: b\n"
        "    amount: 20\n"
    )
    config = parse_config(text)
    assert [(b.name, b.amount, b.period.value) for b in config.budgets] == [
        ("a", 10.0, "monthly"),
        ("b", 20.0, "monthly"),
    ]


def test_several_problems_are_reported_at_once():
    problems = problems_of("several_problems.yml")
    found = {(problem.path, problem.line) for problem in problems}
    assert found == {
        ("timezone", 2),
        ("refresh_interval", 3),
        ("budgets[0].amount", 8),
        ("budgets[0].provider", 10),
        ("budgets[1].period", 13),
        ("budgets[1].labels", 14),
    }
    assert len(problems) == len(found)


def test_a_config_file_that_cannot_be_read_is_named(tmp_path):
    missing = tmp_path / "nowhere.yml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    (problem,) = caught.value.problems
    assert problem.file == str(missing)
    assert "cannot read" in problem.message


@pytest.mark.parametrize(
    ("setting", "path", "message"),
    [
        ("refresh_interval: 90", "refresh_interval", "durations need a unit"),
        ("refresh_interval: 500ms", "refresh_interval", "at least 1s"),
        ("currency: usd", "currency", "pattern"),
        ("exchange_rates: {euro: 1.1}", "exchange_rates", "'euro' is not an ISO 4217"),
        ("exchange_rates: {EUR: 0}", "exchange_rates", "rate for EUR must be a positive"),
        ("thresholds: {warning: 0}", "thresholds", "threshold warning=0.0"),
        ("thresholds: {very-high: 0.5}", "thresholds", "severity 'very-high' must be a word"),
        ("breakdown: {top: 0}", "breakdown.top", "greater than or equal to 1"),
    ],
    ids=[
        "a duration without a unit is refused",
        "a refresh more often than each second is refused",
        "a currency in lower case is refused",
        "an exchange rate for a made-up code is refused",
        "an exchange rate of zero is refused",
        "a threshold of zero is refused",
        "a severity must be a label value word",
        "a breakdown of no values is refused",
    ],
)
def test_global_settings_are_validated(setting, path, message):
    text = f"{setting}\nproviders:\n  demo: {{type: demo}}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "inline.yml")
    (problem,) = caught.value.problems
    assert (problem.file, problem.path, problem.line) == ("inline.yml", path, 1)
    assert message in problem.message


VALID = """
timezone: Europe/Paris
currency: EUR
providers:
  billing:
    type: focus
    paths: ["${BUDGET_EXPORTER_TEST_DIR}/*.csv"]
budgets:
  - name: telemetry
    amount: 10000
    period: monthly
    provider: billing
    filter: {ServiceName: Amazon Simple Queue Service, SubAccountId: 1234567890123}
    labels: {team: platform, tier: 1}
    charges: {credits: exclude, tax: exclude}
"""


def test_a_valid_config_gets_its_defaults_and_expanded_values(monkeypatch):
    monkeypatch.setenv("BUDGET_EXPORTER_TEST_DIR", "/data/billing")
    config = parse_config(VALID, "valid.yml", "/etc/budget")
    budget = config.budget("telemetry")
    assert config.source == "valid.yml"
    assert config.base_dir == "/etc/budget"
    assert config.refresh_interval == timedelta(hours=1)
    assert config.providers["billing"].paths == ("/data/billing/*.csv",)
    # Scalars become one-value lists, and a number read by YAML is compared as text.
    assert budget.filter == {
        "ServiceName": ("Amazon Simple Queue Service",),
        "SubAccountId": ("1234567890123",),
    }
    assert budget.labels == {"team": "platform", "tier": "1"}
    assert budget.charges.excluded_categories() == frozenset({"credit", "tax"})
    assert config.thresholds_for(budget) == DEFAULT_THRESHOLDS


def test_a_secret_from_the_environment_never_appears_in_errors(monkeypatch):
    monkeypatch.setenv("BUDGET_EXPORTER_TEST_SECRET", SECRET)
    text = (
        'timezone: "${BUDGET_EXPORTER_TEST_SECRET}"\n'
        'currency: "${BUDGET_EXPORTER_TEST_SECRET}"\n'
        "providers:\n"
        '  billing: {type: csv, paths: [a.csv], timezone: "${BUDGET_EXPORTER_TEST_SECRET}"}\n'
        "budgets:\n"
        '  - {name: b, amount: 1, period: monthly, parent: "x${BUDGET_EXPORTER_TEST_SECRET}"}\n'
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "secret.yml")
    paths = {problem.path for problem in caught.value.problems}
    assert paths == {"timezone", "currency", "providers.billing.timezone", "budgets[0].parent"}
    assert SECRET not in str(caught.value)
    assert "${BUDGET_EXPORTER_TEST_SECRET}" in str(caught.value)


def test_a_missing_variable_is_named_without_the_value_of_another(monkeypatch):
    monkeypatch.setenv("BUDGET_EXPORTER_TEST_SECRET", SECRET)
    monkeypatch.delenv("BUDGET_EXPORTER_TEST_UNSET", raising=False)
    text = (
        "providers:\n"
        "  billing:\n"
        "    type: csv\n"
        '    paths: ["${BUDGET_EXPORTER_TEST_SECRET}/${BUDGET_EXPORTER_TEST_UNSET}.csv"]\n'
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "env.yml")
    (problem,) = caught.value.problems
    assert (problem.path, problem.line) == ("providers.billing.paths[0]", 4)
    assert problem.message == "environment variable BUDGET_EXPORTER_TEST_UNSET is not set"
    assert SECRET not in str(caught.value)


def test_read_secret_reads_a_file_and_names_an_unreadable_one(tmp_path):
    token = tmp_path / "token"
    token.write_text(f"{SECRET}\n", encoding="utf-8")
    assert read_secret(None, token, "/elsewhere", "providers.x.token_file") == SECRET
    assert read_secret(SecretStr("inline"), None, ".", "providers.x.token") == "inline"
    assert read_secret(None, None, ".", "providers.x.token") is None
    with pytest.raises(ValueError) as caught:
        read_secret(None, tmp_path / "absent", ".", "providers.x.token_file")
    assert "providers.x.token_file" in str(caught.value)
    assert str(tmp_path / "absent") in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "timezone: Europe\nproviders:\n  p: {type: demo}\n",
        "providers:\n  p: {type: csv, paths: a.csv, timezone: Europe}\n",
        "providers:\n  p: {type: gcp_bigquery, table: p.d.t, timezone: Europe}\n",
    ],
    ids=["exporter", "csv provider", "gcp_bigquery provider"],
)
def test_a_folder_of_the_zone_database_is_not_a_time_zone(text):
    # ZoneInfo("Europe") raises IsADirectoryError, which must become a config problem.
    with pytest.raises(ConfigError, match="timezone: unknown time zone 'Europe'"):
        parse_config(text)


def test_read_secret_reads_a_relative_file_from_the_config_folder(tmp_path, monkeypatch):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "token").write_text(f"{SECRET}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "secrets")  # the working folder plays no part
    assert read_secret(None, Path("secrets/token"), str(tmp_path), "p: token_file") == SECRET
    with pytest.raises(ValueError) as caught:
        read_secret(None, Path("token"), str(tmp_path), "p: token_file")
    assert str(tmp_path / "token") in str(caught.value)


def test_over_allocation_scales_children_to_the_parent_period():
    config = load_config(CONFFILES / "over_allocated.yml")
    parent = config.budget("organization")
    children = [config.budget("platform"), config.budget("web")]
    # 600 a month, plus 100 a week over a month of 365.2425 / 12 days: 100 * 30.436875 / 7.
    assert children_limit(parent, children) == pytest.approx(600 + 434.8125)
    assert allocation_warnings(config) == [
        "budget 'organization' is over-allocated: its children's limits add up to "
        "1,034.81 USD per monthly period against its own 1,000.00"
    ]


def test_a_parent_with_room_left_gets_no_warning():
    text = (
        "providers: {demo: {type: demo}}\n"
        "budgets:\n"
        "  - {name: org, amount: 1000, period: monthly}\n"
        "  - {name: a, amount: 600, period: monthly, parent: org}\n"
        "  - {name: b, amount: 4800, period: yearly, parent: org}\n"
    )
    # 600 + 4800 / 12 = 1000: exactly allocated is not over-allocated.
    assert allocation_warnings(parse_config(text)) == []


# --- budget-exporter check ------------------------------------------------------------------------


def test_check_exits_2_and_prints_every_problem(capsys):
    code = main(["check", "--config.file", str(CONFFILES / "several_problems.yml")])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_CONFIG == 2
    assert "6 problem(s)" in err
    file = CONFFILES / "several_problems.yml"
    for where in (
        f"{file}:2: timezone:",
        f"{file}:3: refresh_interval:",
        f"{file}:8: budgets[0].amount:",
        f"{file}:10: budgets[0].provider:",
        f"{file}:13: budgets[1].period:",
        f"{file}:14: budgets[1].labels:",
    ):
        assert where in err


def test_check_exits_1_when_a_provider_fails(capsys):
    # The fixture is valid, but the costs.csv it reads does not exist next to it.
    code = main(["check", "--config.file", str(CONFFILES / "over_allocated.yml")])
    out = capsys.readouterr().out
    assert code == EXIT_PROVIDER_FAILED == 1
    assert "provider billing (csv): FAILED: provider billing: no file matches costs.csv" in out


def test_check_exits_0_and_warns_about_an_over_allocated_parent(tmp_path, capsys):
    shutil.copy(CONFFILES / "over_allocated.yml", tmp_path / "config.yml")
    (tmp_path / "costs.csv").write_text("date,cost\n2024-09-01,12.5\nlater,1\n", encoding="utf-8")
    code = main(["check", "--config.file", str(tmp_path / "config.yml"), "--at", "2024-09-02"])
    out = capsys.readouterr().out
    assert code == EXIT_OK == 0
    assert "config ok" in out
    assert "warning: budget 'organization' is over-allocated" in out
    assert "provider billing (csv): ok, 1 rows from 1 source(s), 1 bad row(s)" in out
    assert f"bad row: {tmp_path / 'costs.csv'}:3: date is not a date" in out


def test_check_never_prints_a_secret(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("BUDGET_EXPORTER_TEST_SECRET", SECRET)
    config = tmp_path / "config.yml"
    config.write_text(
        'timezone: "${BUDGET_EXPORTER_TEST_SECRET}"\nproviders: {demo: {type: demo}}\n',
        encoding="utf-8",
    )
    assert main(["check", "--config.file", str(config)]) == EXIT_BAD_CONFIG
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err
    assert f"{config}:1: timezone: unknown time zone" in captured.err


def test_check_warns_about_a_filter_key_that_names_no_column(tmp_path, capsys):
    (tmp_path / "costs.csv").write_text("date,cost,team\n2024-09-01,1,web\n", encoding="utf-8")
    config = tmp_path / "config.yml"
    config.write_text(
        "providers:\n"
        "  billing: {type: csv, paths: [costs.csv], dimensions: {tags.team: team}}\n"
        "budgets:\n"
        "  - {name: web, amount: 10, period: monthly, filter: {tags.teem: web}}\n",
        encoding="utf-8",
    )
    assert main(["check", "--config.file", str(config), "--at", "2024-09-02"]) == EXIT_OK
    out = capsys.readouterr().out
    assert (
        "warning: budget 'web': filter key 'tags.teem' is not a column of its data; "
        "known: tags.team"
    ) in out
