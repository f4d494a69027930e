"""Prometheus rules and Alertmanager config, checked and unit-tested with promtool and amtool."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT, require_binary
from mixin.severities import (
    DATA_KEEP_FIRING_FOR,
    EXPORTER_DOWN_FOR,
    EXPORTER_DOWN_KEEP_FIRING_FOR,
    NAMES,
    below,
)
from mixin.slo import SLO_BURN_WINDOWS, SLO_WINDOW_DAYS

RULES = ROOT / "rules"
GENERATED = RULES / "generated"
RULE_TESTS = RULES / "tests"
ALERTMANAGER_CONFIG = ROOT / "alertmanager" / "alertmanager.yml"
PROMETHEUS_CONFIG = ROOT / "prometheus" / "prometheus.yml"
RUNBOOKS = ROOT / "docs" / "runbooks.md"

RULE_FILES = sorted(GENERATED.glob("*.rules.yml"))
TEST_FILES = sorted(RULE_TESTS.glob("*.yaml"))
RECORD_NAME = re.compile(r"^[a-z_]+:[a-z_]+:[a-z0-9_]+$")
REQUIRED_ANNOTATIONS = {"summary", "description", "runbook_url", "dashboard_url"}
# Money and SLO alerts say where the budget stands in one annotation, one fact a line.
MONEY_NUMBERS = {"facts"}
SCIENTIFIC = re.compile(r"\d[eE][+-]?\d")


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _rules() -> list[dict[str, Any]]:
    rules = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            rules.extend(group["rules"])
    return rules


def _alert_names() -> set[str]:
    return {rule["alert"] for rule in _rules() if "alert" in rule}


def _unit_tests() -> list[dict[str, Any]]:
    tests = []
    for path in TEST_FILES:
        tests.extend(yaml.safe_load(path.read_text(encoding="utf-8"))["tests"])
    return tests


def test_generated_rule_files_are_up_to_date():
    result = _run([sys.executable, str(RULES / "generate.py"), "--check"])
    assert result.returncode == 0, result.stderr


def test_slo_burn_factors_follow_from_the_budget_share_each_window_may_consume():
    for row in SLO_BURN_WINDOWS:
        hours = SLO_WINDOW_DAYS * 24
        assert row.factor == pytest.approx(row.budget_consumed * hours / row.long_hours), row


def test_promtool_accepts_every_rule_file():
    promtool = require_binary("promtool")
    assert RULE_FILES, "no rule files generated"
    result = _run([promtool, "check", "rules", *map(str, RULE_FILES)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_prometheus_config_and_it_loads_every_rule_file():
    promtool = require_binary("promtool")
    result = _run([promtool, "check", "config", str(PROMETHEUS_CONFIG)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout


def test_prometheus_config_scrapes_the_exporter_on_its_default_port():
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "budget-exporter"]
    assert job["static_configs"][0]["targets"] == ["budget-exporter:10098"]


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda path: path.name)
def test_promtool_unit_tests_pass(test_file: Path):
    promtool = require_binary("promtool")
    result = _run([promtool, "test", "rules", str(test_file)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_case_and_a_quiet_case():
    firing: set[str] = set()
    quiet: set[str] = set()
    for test in _unit_tests():
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    alerts = _alert_names()
    assert alerts - firing == set(), "alerts without a test that fires them"
    assert alerts - quiet == set(), "alerts without a test that keeps them quiet"


def test_firing_cases_check_severity_kind_and_the_annotations():
    for test in _unit_tests():
        for case in test.get("alert_rule_test", []):
            for alert in case.get("exp_alerts") or []:
                labels, annotations = alert["exp_labels"], alert.get("exp_annotations", {})
                assert {"severity", "kind"} <= labels.keys(), (test["name"], labels)
                assert annotations.keys() >= REQUIRED_ANNOTATIONS, (test["name"], annotations)


def test_every_recording_rule_is_tested_with_promql_expr_test():
    tested = " ".join(
        case["expr"] for test in _unit_tests() for case in test.get("promql_expr_test", [])
    )
    records = {rule["record"] for rule in _rules() if "record" in rule}
    assert {record for record in records if record not in tested} == set()


def test_recording_rules_follow_level_metric_operation():
    records = [rule["record"] for rule in _rules() if "record" in rule]
    assert [record for record in records if not RECORD_NAME.match(record)] == []


def test_alert_rules_carry_kind_severity_links_and_numbers():
    for rule in (rule for rule in _rules() if "alert" in rule):
        labels, annotations = rule["labels"], rule["annotations"]
        assert labels["kind"] in {"money", "error_budget", "exporter"}, rule["alert"]
        # BudgetThresholdReached takes severity from the threshold series it compares with.
        assert "severity" in labels or "severity" in rule["expr"], rule["alert"]
        assert annotations.keys() >= REQUIRED_ANNOTATIONS, rule["alert"]
        if labels["kind"] in {"money", "error_budget"}:
            assert annotations.keys() >= MONEY_NUMBERS, rule["alert"]
        assert rule["for"], rule["alert"]


def test_every_runbook_link_points_at_a_section_of_docs_runbooks():
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in RUNBOOKS.read_text(encoding="utf-8").splitlines()
        if line.startswith("## ")
    }
    for rule in (rule for rule in _rules() if "alert" in rule):
        url = rule["annotations"]["runbook_url"]
        assert url.split("#")[0].endswith("docs/runbooks.md"), url
        assert url.split("#")[1] in headings, rule["alert"]


def test_amtool_accepts_the_alertmanager_config():
    amtool = require_binary("amtool")
    result = _run([amtool, "check-config", str(ALERTMANAGER_CONFIG)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "9 inhibit rules" in result.stdout


def _seconds(duration: str) -> int:
    return int(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[duration[-1]]


def test_alerts_on_exporter_data_hold_past_the_exporter_down_delay():
    for rule in (rule for rule in _rules() if "alert" in rule):
        if rule["alert"] == "BudgetExporterDown":
            assert rule["for"] == EXPORTER_DOWN_FOR
            assert rule["keep_firing_for"] == EXPORTER_DOWN_KEEP_FIRING_FOR
        else:
            assert rule["keep_firing_for"] == DATA_KEEP_FIRING_FOR, rule["alert"]
    # Held long enough for BudgetExporterDown to fire and reach Alertmanager (one resend and
    # a group_wait of 1m), and the down alert outlasts the longest group_interval it mutes.
    assert _seconds(DATA_KEEP_FIRING_FOR) >= _seconds(EXPORTER_DOWN_FOR) + 2 * 60
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    intervals = [config["route"]["group_interval"]]
    stack = list(config["route"]["routes"])
    while stack:
        route = stack.pop()
        intervals += [route["group_interval"]] if "group_interval" in route else []
        stack += route.get("routes", [])
    assert _seconds(EXPORTER_DOWN_KEEP_FIRING_FOR) >= max(map(_seconds, intervals))


def test_each_rung_of_the_severity_ladder_silences_the_rungs_below_within_one_alert_family():
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    ladder = {}
    for rule in config["inhibit_rules"]:
        if "alertname" not in rule["equal"]:
            continue
        (source,) = [m for m in rule["source_matchers"] if m.startswith("severity=")]
        (target,) = [m for m in rule["target_matchers"] if m.startswith("severity=")]
        subject = rule["equal"][1]
        assert rule["equal"] == ["alertname", subject]
        ladder[(subject, source.split('"')[1])] = tuple(target.split('"')[1].split("|"))
    expected = {(subject, name): below(name) for subject in ("budget", "slo") for name in NAMES[1:]}
    assert ladder == expected


def test_annotations_print_no_number_in_scientific_notation():
    for rule in (rule for rule in _rules() if "alert" in rule):
        for name, text in rule["annotations"].items():
            assert "humanize " not in text and "humanize1024" not in text, (rule["alert"], name)
            assert "%g" not in text and "%e" not in text, (rule["alert"], name)
            assert "humanizePercentage" not in text, (rule["alert"], name)


def test_alertmanager_config_commits_no_secret():
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    text = yaml.safe_dump(config)
    for key in ("api_url:", "routing_key:", "service_key:", "auth_password:", "credentials:"):
        assert f" {key}" not in text and f"\n{key}" not in text, key
    assert "slack_api_url_file" in config["global"]
    assert "smtp_auth_password_file" in config["global"]


ROUTES = [
    # (case, expected receivers, labels)
    (
        "a budget over its limit pages, mails and posts",
        "automation-webhook,budget-critical",
        "alertname=BudgetThresholdReached kind=money severity=critical budget=ml-platform",
    ),
    (
        "a budget past its warning threshold mails and posts",
        "automation-webhook,budget-warning",
        "alertname=BudgetThresholdReached kind=money severity=warning budget=ml-platform",
    ),
    (
        "a budget past its notice threshold only posts",
        "automation-webhook,budget-notice",
        "alertname=BudgetThresholdReached kind=money severity=notice budget=ml-platform",
    ),
    (
        "the fourth rung of a 50/80/100/120 ladder pages and mails the escalation list",
        "automation-webhook,budget-emergency",
        "alertname=BudgetThresholdReached kind=money severity=emergency budget=ml-platform",
    ),
    (
        "an over-allocated parent is a notice to its owners",
        "automation-webhook,budget-notice",
        "alertname=BudgetOverAllocated kind=money severity=notice budget=organization",
    ),
    (
        "a threshold named off the ladder is the exporter operators' to fix",
        "automation-webhook,exporter-ops",
        "alertname=BudgetExporterThresholdSeverityUnknown kind=exporter severity=warning",
    ),
    (
        "a money severity the routes do not know is posted like a notice",
        "automation-webhook,budget-notice",
        "alertname=BudgetThresholdReached kind=money severity=info budget=ml-platform",
    ),
    (
        "a forecast overrun mails and posts",
        "automation-webhook,budget-warning",
        "alertname=BudgetForecastOverrun kind=money severity=warning budget=web",
    ),
    (
        "a fast money burn mails and posts",
        "automation-webhook,budget-warning",
        "alertname=BudgetBurnRateHigh kind=money severity=warning budget=web long=7d short=1d",
    ),
    (
        "a cost anomaly only posts",
        "automation-webhook,budget-notice",
        "alertname=BudgetCostAnomaly kind=money severity=notice budget=web",
    ),
    (
        "a fast error budget burn pages",
        "automation-webhook,slo-page",
        "alertname=SLOErrorBudgetBurn kind=error_budget severity=critical slo=api long=1h short=5m",
    ),
    (
        "a slow error budget burn opens a ticket",
        "automation-webhook,slo-ticket",
        "alertname=SLOErrorBudgetBurn kind=error_budget severity=warning slo=api long=3d short=6h",
    ),
    (
        "an exhausted error budget opens a ticket",
        "automation-webhook,slo-ticket",
        "alertname=SLOErrorBudgetExhausted kind=error_budget severity=warning slo=api",
    ),
    (
        "an exporter down goes to its operators",
        "automation-webhook,exporter-ops",
        "alertname=BudgetExporterDown kind=exporter severity=warning job=budget-exporter",
    ),
    (
        "a failing provider goes to the exporter's operators",
        "automation-webhook,exporter-ops",
        "alertname=BudgetExporterProviderFailing kind=exporter severity=warning provider=aws",
    ),
    (
        "a new purchase is a notice to the budget's owners",
        "automation-webhook,budget-notice",
        "alertname=BudgetNewPurchase kind=money severity=notice budget=commitments",
    ),
    (
        "an alert of no known kind still reaches someone",
        "automation-webhook,budget-notice",
        "alertname=Other severity=critical",
    ),
]


@pytest.mark.parametrize(("case", "receivers", "labels"), ROUTES, ids=[r[0] for r in ROUTES])
def test_amtool_routes_each_kind_of_alert(case: str, receivers: str, labels: str):
    amtool = require_binary("amtool")
    result = _run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={ALERTMANAGER_CONFIG}",
            f"--verify.receivers={receivers}",
            *labels.split(),
        ]
    )
    assert result.returncode == 0, f"{case}: got {result.stdout.strip()}"


def test_a_new_purchase_is_repeated_only_after_a_month():
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    money = next(r for r in config["route"]["routes"] if r.get("matchers") == ['kind="money"'])
    route = next(
        r for r in money["routes"] if r.get("matchers") == ['alertname="BudgetNewPurchase"']
    )
    hours = int(route["repeat_interval"].removesuffix("h"))
    assert hours >= 31 * 24


TEMPLATE_DATA = ROOT / "tests" / "fixtures" / "alerting" / "template-data.json"
RENDERED = [
    # (template, lines the rendering of a critical threshold alert must contain)
    (
        "budget.slack.title",
        ["[FIRING:1] BudgetThresholdReached (critical) budget ml-platform"],
    ),
    (
        "budget.slack.text",
        [
            "*FIRING: A budget's spend reached one of its thresholds.* (critical, budget "
            "ml-platform, since 2026-11-26 09:00 UTC)",
            "Budget ml-platform reached its critical threshold, 100% of its limit.",
            "• *Spent:* 2,430.00 USD of 2,400.00 USD (101.2%) this monthly period",
            "• *Over the limit by:* 30.00 USD",
            "• *Burn rate:* 1.2x over the period, 3.5x over 1d, 1.6x over 7d",
            "• *Forecast:* 2,900.00 USD by period end (80% range 2,700.00 to 3,100.00), 97% "
            "likely over the limit",
            "• *Limit reached:* 2026-11-25 08:40 UTC",
            "• *Scope:* cost_center=cc-240 team=ml",
            "• *Action:* <http://localhost:3000/d/budget-detail/budget-detail?"
            "var-budget=ml-platform|open the dashboard> · <https://github.com/budget-exporter/"
            "budget-exporter/blob/main/docs/runbooks.md#budgetthresholdreached|runbook>",
        ],
    ),
    ("budget.email.subject", ["[FIRING] BudgetThresholdReached (critical): budget ml-platform"]),
    (
        "budget.email.text",
        [
            "Spent: 2,430.00 USD of 2,400.00 USD (101.2%) this monthly period",
            "Limit reached: 2026-11-25 08:40 UTC",
            "Scope: cost_center=cc-240 team=ml",
            "Dashboard: http://localhost:3000/d/budget-detail/budget-detail?var-budget=ml-platform",
        ],
    ),
    (
        "budget.pagerduty.summary",
        [
            "BudgetThresholdReached (critical) budget ml-platform: Budget ml-platform reached "
            "its critical threshold, 100% of its limit."
        ],
    ),
    ("budget.pagerduty.details", ["Over the limit by: 30.00 USD"]),
    ("budget.pagerduty.severity", ["critical"]),
]


@pytest.mark.parametrize(("template", "lines"), RENDERED, ids=[r[0] for r in RENDERED])
def test_notification_templates_render_the_numbers(template: str, lines: list[str]):
    amtool = require_binary("amtool")
    result = _run(
        [
            amtool,
            "template",
            "render",
            f"--template.glob={ROOT / 'alertmanager' / 'templates' / '*.tmpl'}",
            f"--template.data={TEMPLATE_DATA}",
            f'--template.text={{{{ template "{template}" . }}}}',
        ]
    )
    assert result.returncode == 0, result.stderr
    rendered = result.stdout.splitlines()
    for line in lines:
        assert any(row.strip() == line for row in rendered), (line, result.stdout)
    if template != "budget.email.html":
        assert "" not in [row.strip() for row in rendered], result.stdout
        figures = [row for row in rendered if row.strip()]
        assert len(figures) == len(set(figures)), result.stdout


def test_check_warns_of_the_same_severity_ladder_the_routes_use():
    from budget_exporter.config.checks import SEVERITY_LADDER, threshold_warnings
    from budget_exporter.config.loader import parse_config
    from mixin.severities import NAMES

    assert NAMES == SEVERITY_LADDER
    config = parse_config(
        "thresholds: {notice: 0.5, breach: 1.2}\nproviders:\n  cloud: {type: demo}\n"
        "budgets:\n  - {name: b, amount: 1, period: monthly, thresholds: {emergency: 1.2}}\n"
    )
    warnings = threshold_warnings(config)
    assert len(warnings) == 1 and "threshold 'breach' is not on the severity ladder" in warnings[0]


# (ratio, what ratio_percent prints): the point moves two digits as text, rounded to 0.1%.
RATIO_PERCENT = [
    (0.0, "0%"),
    (1.726e-12, "<0.1%"),
    (0.0004, "<0.1%"),
    (0.001, "0.1%"),
    (0.05309, "5.3%"),
    (0.125, "12.5%"),
    (0.5, "50%"),
    (0.9995, ">99.9%"),
    (1.0, "100%"),
    (1.0125, "101.2%"),
    (12.3456, "1,234.6%"),
    (-0.25, "-25%"),
    (-1234567.891, "-123,456,789.1%"),
]


def test_ratios_print_as_percent_and_overruns_as_magnitudes_in_promtool(tmp_path: Path):
    sys.path.insert(0, str(ROOT))
    from rules.annotations import magnitude, ratio_percent

    promtool = require_binary("promtool")
    rules = {
        "groups": [
            {
                "name": "format",
                "rules": [
                    {
                        "alert": "Format",
                        "expr": "x",
                        "annotations": {
                            "percent": ratio_percent("$value"),
                            "over": magnitude("$value", '"USD"'),
                        },
                    }
                ],
            }
        ]
    }
    (tmp_path / "format.rules.yml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    cases = RATIO_PERCENT
    tests = {
        "rule_files": ["format.rules.yml"],
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f'x{{case="{n}"}}', "values": repr(value)}
                    for n, (value, _) in enumerate(cases)
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "0m",
                        "alertname": "Format",
                        "exp_alerts": [
                            {
                                "exp_labels": {"case": str(n)},
                                "exp_annotations": {
                                    "percent": printed,
                                    "over": f"{abs(value):,.2f} USD",
                                },
                            }
                            for n, (value, printed) in enumerate(cases)
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "format.test.yml").write_text(yaml.safe_dump(tests), encoding="utf-8")
    result = _run([promtool, "test", "rules", str(tmp_path / "format.test.yml")])
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_annotation_reads_its_facts_through_one_selector_scoped_to_the_alert():
    # A union of one selector per fact costs every active alert an index lookup per fact at
    # every evaluation (bench/README.md, rule evaluation): one query, one selector, at most.
    for rule in (rule for rule in _rules() if "alert" in rule):
        for name, text in rule["annotations"].items():
            queries = re.findall(r"printf `([^`]*)`[^|]*\| query", text)
            assert len(queries) <= 1, (rule["alert"], name)
            for query in queries:
                assert query.count("{") == 1, (rule["alert"], name, query)
                assert "job=%q,instance=%q" in query, (rule["alert"], name, query)


def test_rules_without_facts_keep_every_other_annotation_and_pass_promtool(tmp_path: Path):
    sys.path.insert(0, str(ROOT))
    from rules.generate import main

    assert main(["--no-facts", "--out", str(tmp_path)]) == 0
    promtool = require_binary("promtool")
    written = sorted(tmp_path.glob("*.rules.yml"))
    assert [p.name for p in written] == [p.name for p in RULE_FILES]
    result = _run([promtool, "check", "rules", *map(str, written)])
    assert result.returncode == 0, result.stdout + result.stderr
    for lean, full in zip(written, RULE_FILES, strict=True):
        lean_rules = [r for g in yaml.safe_load(lean.read_text())["groups"] for r in g["rules"]]
        full_rules = [r for g in yaml.safe_load(full.read_text())["groups"] for r in g["rules"]]
        for without, with_ in zip(lean_rules, full_rules, strict=True):
            assert "facts" not in without.get("annotations", {})
            expected = {k: v for k, v in with_.get("annotations", {}).items() if k != "facts"}
            assert without.get("annotations", {}) == expected
            assert {k: v for k, v in without.items() if k != "annotations"} == {
                k: v for k, v in with_.items() if k != "annotations"
            }
