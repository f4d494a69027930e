"""The provisioned Grafana dashboards: generated from code, well formed, and answered for real.

Grafana cannot run here, so everything else about the dashboards is checked: the committed JSON
is exactly what grafana/generate.py builds with Grafana's published model; the structure file
provisioning needs is there; and every panel and variable query, with Grafana's built-in
variables substituted, is run against the Debian prometheus that scraped the real exporter on
the demo config with rules/ loaded.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT, free_port, require_binary, running_exporter, wait_for_http

GRAFANA = ROOT / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
RULES = ROOT / "rules"

# Metrics that panels already show but the exporter does not emit yet, with what they wait for.
# The query test fails as soon as one of them is exported: then delete its line here.
PENDING: dict[str, str] = {}

# Optional copies of what PromQL derives from the default set (README, series per budget):
# the panels compute them (grafana/builders/panels.py).
DERIVED_COPIES = {
    "budget_threshold_reached": "panels compare the threshold with utilization instead",
    "budget_spend_variance": "panels subtract budget_expected_spend from budget_spend instead",
    "budget_spend_variance_ratio": "panels divide that difference by budget_expected_spend",
    "budget_period_elapsed_ratio": "panels divide the time since the start by the length",
    "budget_average_daily_spend": "panels divide spend by the days to the newest data",
    "budget_ideal_daily_spend": "panels divide what remains by the days to the period end",
}

# Exposed metrics that no panel and no rule needs, each with the reason.
DELIBERATELY_UNUSED: dict[str, str] = dict(DERIVED_COPIES)

PANEL_TYPES = {"row", "stat", "gauge", "timeseries", "table", "bargauge"}
GRAFANA_BUILTINS = {
    # Values Grafana would pick for a short time range; they only need to be valid durations.
    "$__rate_interval": "1m",
    "$__interval_ms": "15000",
    "$__interval": "15s",
    "$__range_ms": "300000",
    "$__range_s": "300",
    "$__range": "5m",
}
RANGE_SECONDS, STEP_SECONDS = 300, 15
METRIC_TOKEN = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
VARIABLE_REF = re.compile(r"\$\{(\w+)(?::[\w]+)?\}|\$(\w+)")
LABEL_VALUES = re.compile(r"^label_values\((?:(?P<selector>.+),\s*)?(?P<label>\w+)\)$")


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("grafana_generate", GRAFANA / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


DASHBOARD_MODELS = _load_dashboards()


def _panels(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in model.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def _variables(model: dict[str, Any]) -> list[dict[str, Any]]:
    return list(model.get("templating", {}).get("list", []))


def _variable_query(variable: dict[str, Any]) -> str:
    query = variable.get("query", "")
    return str(query["query"] if isinstance(query, dict) else query)


def _queries() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(test id, dashboard, query) for every panel target and every query variable."""
    found = []
    for name, model in DASHBOARD_MODELS.items():
        stem = name.removesuffix(".json")
        for panel in _panels(model):
            for target in panel.get("targets", []):
                query = {
                    "expr": target["expr"],
                    "instant": bool(target.get("instant")),
                    "repeat": panel.get("repeat"),
                }
                found.append((f"{stem}: {panel['title']} [{target['refId']}]", model, query))
        for variable in _variables(model):
            if variable["type"] == "query":
                query = {"label_values": _variable_query(variable), "repeat": None}
                found.append((f"{stem}: variable {variable['name']}", model, query))
    return found


def _metrics_in(text: str) -> set[str]:
    return set(METRIC_TOKEN.findall(text))


def _recording_rules() -> dict[str, set[str]]:
    """Name of each recording rule in rules/ -> the names its expressions read."""
    reads: dict[str, set[str]] = {}
    for document in _rule_documents():
        for group in document.get("groups", []):
            for rule in group.get("rules", []):
                if "record" in rule:
                    reads.setdefault(rule["record"], set()).update(_metrics_in(str(rule["expr"])))
    return reads


def _waiting_for(text: str) -> set[str]:
    """The pending metrics a query reads, directly or through recording rules."""
    rules = _recording_rules()
    seen: set[str] = set()
    todo = _metrics_in(text)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo |= rules.get(name, set())
    return seen & set(PENDING)


def _rule_files() -> list[Path]:
    """The rule files Prometheus loads (rules/tests/ holds promtool tests, not rules)."""
    return [
        path
        for path in sorted(RULES.rglob("*.y*ml"))
        if "tests" not in path.relative_to(RULES).parts
    ]


def _rule_documents() -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text()) or {} for path in _rule_files()]


def _rule_expressions() -> list[str]:
    return [
        str(rule.get("expr", ""))
        for document in _rule_documents()
        for group in document.get("groups", [])
        for rule in group.get("rules", [])
    ]


# --------------------------------------------------------------------------- static checks


def test_committed_dashboards_are_exactly_what_the_generator_builds() -> None:
    generated = _generator().generate()
    committed = {path.name: path.read_text() for path in DASHBOARDS.glob("*.json")}
    assert sorted(committed) == sorted(generated)
    stale = [name for name, text in generated.items() if committed[name] != text]
    assert not stale, f"run .venv/bin/python grafana/generate.py; stale: {stale}"


def test_there_are_the_four_dashboards_with_distinct_fixed_uids() -> None:
    uids = [model["uid"] for model in DASHBOARD_MODELS.values()]
    assert sorted(uids) == sorted(_generator().UIDS.values())
    assert len(set(uids)) == len(uids) == 4
    titles = {model["title"] for model in DASHBOARD_MODELS.values()}
    assert titles == {
        "Budgets / Cost overview",
        "Budgets / Budget detail",
        "Budgets / Error budgets",
        "Budgets / Exporter health",
    }


@pytest.mark.parametrize("name", sorted(DASHBOARD_MODELS))
def test_dashboard_has_the_structure_provisioning_needs(name: str) -> None:
    model = DASHBOARD_MODELS[name]
    assert re.fullmatch(r"[a-z0-9-]{1,40}", model["uid"])
    assert model["schemaVersion"] >= 39
    assert model["time"]["from"].startswith("now-") and model["time"]["to"] == "now"
    assert "id" not in model or model["id"] is None, "provisioned dashboards carry no id"
    panels = list(_panels(model))
    ids = [panel["id"] for panel in panels]
    assert len(set(ids)) == len(ids) and min(ids) >= 1
    for panel in panels:
        assert panel["type"] in PANEL_TYPES, panel["title"]
        grid = panel["gridPos"]
        assert grid["w"] >= 1 and grid["h"] >= 1 and grid["x"] + grid["w"] <= 24
        if panel["type"] == "row":
            continue
        assert panel["title"] and panel.get("description"), f"{panel['title']}: no description"
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{panel['title']}: no unit"
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert panel["targets"] and len(set(ref_ids)) == len(ref_ids) and all(ref_ids)
        for target in panel["targets"]:
            assert target["expr"].strip()
            assert "instant" in target or "range" in target


@pytest.mark.parametrize("name", sorted(DASHBOARD_MODELS))
def test_every_datasource_reference_is_the_variable_or_the_provisioned_uid(name: str) -> None:
    model = DASHBOARD_MODELS[name]
    provisioned = _generator().PROVISIONED_DATASOURCE_UID
    variables = _variables(model)
    assert variables[0]["type"] == "datasource" and variables[0]["name"] == "datasource"
    assert variables[0]["query"] == "prometheus"
    allowed = {"${datasource}", "$datasource", provisioned}
    references = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("datasource"), dict):
                references.append(node["datasource"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(model)
    assert references
    for reference in references:
        assert reference.get("type") == "prometheus" and reference.get("uid") in allowed


def test_provisioned_datasource_has_the_uid_the_dashboards_allow() -> None:
    provisioning = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    (source,) = provisioning["datasources"]
    assert source["uid"] == _generator().PROVISIONED_DATASOURCE_UID
    assert source["type"] == "prometheus" and source["isDefault"] is True


def test_dashboard_provider_loads_the_dashboards_folder() -> None:
    provisioning = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "budget-exporter.yml").read_text()
    )
    (provider,) = provisioning["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/budget-exporter"


def test_dashboards_link_to_each_other_by_uid() -> None:
    uids = {model["uid"] for model in DASHBOARD_MODELS.values()}
    tag = _generator().TAG
    for model in DASHBOARD_MODELS.values():
        assert tag in model["tags"]
        assert any(link["type"] == "dashboards" and tag in link["tags"] for link in model["links"])
    targets = re.findall(r"/d/([a-z0-9-]+)", json.dumps(list(DASHBOARD_MODELS.values())))
    assert targets, "the budgets table links to the budget detail"
    assert set(targets) <= uids


UNIT_BY_SUFFIX = [
    ("_timestamp_seconds", None),  # shown as dates after * 1000, checked below
    ("_ratio", "percentunit"),
    ("_probability", "percentunit"),
    ("_mape", "percentunit"),
    ("_coverage", "percentunit"),
    ("_seconds", "s"),
    (":days", "d"),
]
PLAIN_SELECTOR = re.compile(r"^(?:sort_desc|sort)?\(?([a-zA-Z_:]+)(?:\{[^}]*\})?\)?$")


def test_units_follow_what_the_numbers_are() -> None:
    checked = 0
    for model in DASHBOARD_MODELS.values():
        for panel in _panels(model):
            if panel["type"] in {"row", "table"}:
                continue  # a table sets units per column
            unit = panel["fieldConfig"]["defaults"].get("unit")
            for target in panel.get("targets", []):
                expr = target["expr"]
                if "timestamp_seconds" in expr and expr.endswith("* 1000"):
                    assert unit == "dateTimeFromNow", panel["title"]
                    checked += 1
                if expr.startswith("time() - "):
                    assert unit == "s", panel["title"]
                    checked += 1
                match = PLAIN_SELECTOR.match(expr)
                if not match:
                    continue
                expected = next((u for end, u in UNIT_BY_SUFFIX if match[1].endswith(end)), "")
                if expected:
                    assert unit == expected, panel["title"]
                    checked += 1
                if match[1].endswith(("_spend", "_limit", "_remaining", ":sum")):
                    assert unit.startswith("currency"), panel["title"]
                    checked += 1
    assert checked > 40


# The alerts whose thresholds the dashboards colour: "<selector> > <number>" in rules/generated.
THRESHOLD_ALERT = re.compile(r"^(?P<selector>.+?) > (?P<level>[0-9.]+)$")
BURN_PAIR = re.compile(r'long="(?P<long>\w+)",short="(?P<short>\w+)"')


def _alert_levels(name: str) -> list[tuple[str, float]]:
    """(selector, level) of every alerting rule with this name."""
    levels = []
    for document in _rule_documents():
        for group in document.get("groups", []):
            for rule in group.get("rules", []):
                if rule.get("alert") == name:
                    match = THRESHOLD_ALERT.match(rule["expr"].strip())
                    assert match, rule["expr"]
                    levels.append((match["selector"], float(match["level"])))
    return levels


def _threshold_values(panel: dict[str, Any]) -> list[float]:
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    return [step["value"] for step in steps if step["value"] is not None]


def _panels_reading(metric: str) -> list[dict[str, Any]]:
    return [
        panel
        for model in DASHBOARD_MODELS.values()
        for panel in _panels(model)
        if any(metric in _metrics_in(target["expr"]) for target in panel.get("targets", []))
    ]


def test_burn_rate_panels_draw_exactly_the_factors_the_slo_alerts_fire_at() -> None:
    pairs = {}
    for selector, factor in _alert_levels("SLOErrorBudgetBurn"):
        match = BURN_PAIR.search(selector)
        assert match, selector
        pairs[match["long"], match["short"]] = factor
    assert len(pairs) == 4
    burn_panels = _panels_reading("slo_burn_rate")
    assert len(burn_panels) == 2
    drawn_windows = set()
    for panel in burn_panels:
        assert sorted(_threshold_values(panel)) == sorted(pairs.values()), panel["title"]
        (target,) = panel["targets"]
        windows = re.search(r'window=~"([^"]+)"', target["expr"])
        assert windows, target["expr"]
        drawn_windows |= set(windows[1].split("|"))
    assert drawn_windows == {window for pair in pairs for window in pair}
    (pair_panel,) = _panels_reading("slo:burn_rate:min_pair")
    (target,) = pair_panel["targets"]
    divisors = re.findall(r'long="(\w+)"\} / ([0-9.]+)', target["expr"])
    assert {long: float(factor) for long, factor in divisors} == {
        long: factor for (long, _), factor in pairs.items()
    }


@pytest.mark.parametrize(
    ("alert", "metric", "colour"),
    [
        ("BudgetForecastOverrun", "budget_forecast_overrun_probability", "red"),
        ("BudgetCostAnomaly", "budget_cost_anomaly_score", "orange"),
    ],
)
def test_money_panels_turn_colour_at_the_level_their_alert_fires_at(
    alert: str, metric: str, colour: str
) -> None:
    ((_, level),) = _alert_levels(alert)
    panels = _panels_reading(metric)
    assert panels
    for panel in panels:
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert {"color": colour, "value": level} in steps, panel["title"]


def test_alert_dashboard_links_point_at_a_committed_dashboard_by_uid_and_slug() -> None:
    addresses = {
        f"/d/{model['uid']}/{name.removesuffix('.json')}"
        for name, model in DASHBOARD_MODELS.items()
    }
    links = {
        rule["annotations"]["dashboard_url"]
        for document in _rule_documents()
        for group in document.get("groups", [])
        for rule in group.get("rules", [])
        if "alert" in rule
    }
    assert links
    for link in links:
        path = urllib.parse.urlsplit(link).path
        assert path in addresses, link


def test_pending_metrics_are_really_used_by_a_panel() -> None:
    used = set().union(*(_metrics_in(json.dumps(model)) for model in DASHBOARD_MODELS.values()))
    assert set(PENDING) <= used


# --------------------------------------------------------------------------- real Prometheus


class Prometheus:
    """The HTTP API of a running Prometheus."""

    def __init__(self, url: str):
        self.url = url

    def get(self, path: str, **params: str | list[str]) -> Any:
        query = urllib.parse.urlencode(params, doseq=True)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def series_count(self, expr: str, instant: bool) -> int:
        now = time.time()
        if instant:
            data = self.get("/api/v1/query", query=expr, time=str(now))
        else:
            data = self.get(
                "/api/v1/query_range",
                query=expr,
                start=str(now - RANGE_SECONDS),
                end=str(now),
                step=str(STEP_SECONDS),
            )
        return len(data["result"]) if isinstance(data["result"], list) else 1

    def label_values(self, selector: str | None, label: str) -> list[str]:
        params: dict[str, str | list[str]] = {"match[]": [selector]} if selector else {}
        return list(self.get(f"/api/v1/label/{label}/values", **params))


def _job_name() -> str:
    """The exporter's job name in prometheus/prometheus.yml (rules may select on it)."""
    path = ROOT / "prometheus" / "prometheus.yml"
    if path.exists():
        config = yaml.safe_load(path.read_text()) or {}
        for job in config.get("scrape_configs", []):
            targets = [t for c in job.get("static_configs", []) for t in c.get("targets", [])]
            if any(str(target).endswith(":10098") for target in targets):
                return str(job["job_name"])
    return "budget-exporter"


def _copy_rules(into: Path) -> list[str]:
    """rules/ as Prometheus loads it, with every group evaluated each second."""
    into.mkdir()
    files = []
    for index, path in enumerate(_rule_files()):
        document = yaml.safe_load(path.read_text()) or {}
        for group in document.get("groups", []):
            group.pop("interval", None)
        copy = into / f"{index:02d}-{path.name}"
        copy.write_text(yaml.safe_dump(document))
        files.append(str(copy))
    return files


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    binary = require_binary("prometheus")
    root = tmp_path_factory.mktemp("stack")
    with running_exporter(None, root / "exporter-state") as exporter:
        wait_for_http(f"{exporter}/-/ready", timeout=60)
        port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": _copy_rules(root / "rules"),
            "scrape_configs": [
                {
                    "job_name": _job_name(),
                    "static_configs": [{"targets": [exporter.removeprefix("http://")]}],
                }
            ],
        }
        (root / "prometheus.yml").write_text(yaml.safe_dump(config))
        log = open(root / "prometheus.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={root / 'prometheus.yml'}",
                f"--storage.tsdb.path={root / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_http(f"{url}/-/ready", timeout=30)
            api = Prometheus(url)
            _wait_for_data(api, config["rule_files"])
            yield api
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def _wait_for_data(api: Prometheus, rule_files: list[str], timeout: float = 45.0) -> None:
    """Until three scrapes are stored (increase() needs two) and every rule group has run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        scrapes = api.get("/api/v1/query", query="count_over_time(budget_exporter_build_info[1m])")
        groups = api.get("/api/v1/rules")["groups"] if rule_files else []
        evaluated = all(not group["lastEvaluation"].startswith("0001") for group in groups) and len(
            groups
        ) >= (1 if rule_files else 0)
        if scrapes["result"] and float(scrapes["result"][0]["value"][1]) >= 3 and evaluated:
            return
        time.sleep(0.5)
    raise AssertionError(f"no scraped data and evaluated rules within {timeout}s")


def _substitute(text: str, values: dict[str, str]) -> str:
    for builtin in sorted(GRAFANA_BUILTINS, key=len, reverse=True):
        text = text.replace(builtin, GRAFANA_BUILTINS[builtin])
    return VARIABLE_REF.sub(lambda match: values[match.group(1) or match.group(2)], text)


def _variable_options(api: Prometheus, model: dict[str, Any]) -> dict[str, list[str]]:
    """Each query variable's values as Grafana would list them; All (".*") first when allowed."""
    options: dict[str, list[str]] = {}
    defaults: dict[str, str] = {}
    for variable in _variables(model):
        if variable["type"] != "query":
            continue
        match = LABEL_VALUES.match(_variable_query(variable))
        assert match, _variable_query(variable)
        selector = match["selector"] and _substitute(match["selector"], defaults)
        values = api.label_values(selector, match["label"])
        if variable.get("includeAll"):
            values = [variable.get("allValue") or "|".join(values), *values]
        options[variable["name"]] = values
        defaults[variable["name"]] = values[0] if values else "no-value"
    return options


def _answers(api: Prometheus, model: dict[str, Any], query: dict[str, Any]) -> bool:
    """Whether the query returns a series for the defaults or for some value of one variable."""
    options = _variable_options(api, model)
    defaults = {name: values[0] for name, values in options.items() if values}
    if query["repeat"]:
        # A repeated panel gets one value at a time, never All.
        options[query["repeat"]] = options[query["repeat"]][1:]
        defaults[query["repeat"]] = options[query["repeat"]][0]
    candidates = itertools.chain(
        [defaults],
        ({**defaults, name: value} for name, values in options.items() for value in values),
    )
    for values in candidates:
        if "label_values" in query:
            match = LABEL_VALUES.match(query["label_values"])
            assert match
            selector = match["selector"] and _substitute(match["selector"], values)
            if api.label_values(selector, match["label"]):
                return True
        elif api.series_count(_substitute(query["expr"], values), query["instant"]):
            return True
    return False


QUERIES = _queries()


@pytest.mark.integration
@pytest.mark.parametrize(
    ("model", "query"), [(m, q) for _, m, q in QUERIES], ids=[i for i, _, _ in QUERIES]
)
def test_query_returns_a_series_from_the_real_exporter(
    prometheus: Prometheus, model: dict[str, Any], query: dict[str, Any]
) -> None:
    text = query.get("expr") or query["label_values"]
    waiting = sorted(_waiting_for(text))
    if waiting:
        for metric in waiting:
            present = prometheus.get("/api/v1/query", query=f"count({{__name__={metric!r}}})")
            assert not present["result"], f"{metric} is exported now: remove it from PENDING"
        return
    assert _answers(prometheus, model, query), f"no series for: {text}"


ALL_BUDGETS = 'budget=~".+"'


def _derivations() -> list[tuple[str, str, str]]:
    from grafana.builders.panels import average_daily_spend, ideal_daily_spend
    from mixin.promql import expected_spend, thresholds_reached

    return [
        ("average daily spend", average_daily_spend(ALL_BUDGETS), "budget_average_daily_spend"),
        ("ideal daily spend", ideal_daily_spend(ALL_BUDGETS), "budget_ideal_daily_spend"),
        (
            "expected spend",
            f"max by (budget) ({expected_spend(ALL_BUDGETS)})",
            "max by (budget) (budget_spend - budget_spend_variance)",
        ),
        (
            "thresholds reached",
            f"sum by (budget) ({thresholds_reached(ALL_BUDGETS)})",
            "sum by (budget) (budget_threshold_reached)",
        ),
    ]


def _by_budget(prometheus: Prometheus, expr: str) -> dict[str, float]:
    data = prometheus.get("/api/v1/query", query=expr)
    return {row["metric"]["budget"]: float(row["value"][1]) for row in data["result"]}


@pytest.mark.integration
@pytest.mark.parametrize("case", range(4), ids=lambda i: _derivations()[i][0])
def test_what_panels_and_rules_derive_equals_the_exporters_own_figure(
    prometheus: Prometheus, case: int
) -> None:
    """On the demo (every optional family on) the PromQL that stands for a family, through the
    shared data-as-of time, expected spend and thresholds, gives that family's value."""
    _, derived, exported = _derivations()[case]
    want = _by_budget(prometheus, exported)
    got = _by_budget(prometheus, derived)
    assert len(want) >= 5
    assert got.keys() == want.keys()
    for budget, value in want.items():
        assert got[budget] == pytest.approx(value, rel=1e-9, abs=1e-9), budget


@pytest.mark.integration
def test_a_budgets_panels_read_its_own_thresholds_or_else_the_configs(
    prometheus: Prometheus,
) -> None:
    from budget_exporter.config.loader import load_config
    from mixin.promql import one_budget_thresholds

    config = load_config(None)
    assert any(b.thresholds is not None for b in config.budgets)  # both kinds are checked
    for budget in config.budgets:
        data = prometheus.get(
            "/api/v1/query", query=one_budget_thresholds(f'budget="{budget.name}"')
        )
        got = {row["metric"]["severity"]: float(row["value"][1]) for row in data["result"]}
        assert got == config.thresholds_for(budget), budget.name


def _read_by_annotations() -> set[str]:
    """The metrics alert texts read: each text's one query selects them by name."""
    names: set[str] = set()
    for document in _rule_documents():
        for group in document.get("groups", []):
            for rule in group.get("rules", []):
                for text in rule.get("annotations", {}).values():
                    for alternatives in re.findall(r'__name__=~"([^"]+)"', str(text)):
                        names |= set(alternatives.split("|"))
    return names


@pytest.mark.integration
def test_every_exposed_metric_is_used_by_a_panel_or_a_rule(prometheus: Prometheus) -> None:
    exposed = set(prometheus.label_values(f'{{job="{_job_name()}"}}', "__name__"))
    # Prometheus' own series and the outputs of rules are not the exporter's.
    exposed = {
        name
        for name in exposed
        if name not in {"up", "ALERTS", "ALERTS_FOR_STATE"}
        and not name.startswith("scrape_")
        and ":" not in name
    }
    assert "budget_spend" in exposed
    used = set().union(*(_metrics_in(json.dumps(m)) for m in DASHBOARD_MODELS.values()))
    used |= set().union(set(), *(_metrics_in(expr) for expr in _rule_expressions()))
    used |= _read_by_annotations()
    assert exposed - used - set(DELIBERATELY_UNUSED) == set()
    assert set(DELIBERATELY_UNUSED) <= exposed - used, "a listed metric is used or gone"


# Declared families no panel or rule reads, each with the reason; the test below fails when one
# of them gets used (then delete its line) or another declared family is left unused.
NOT_SHOWN: dict[str, str] = {
    "budget_exchange_rate": "a config constant; the JSON API and report show it",
    "budget_exporter_provider_api_requests_total": "aws_cost_explorer only: no demo panel yet",
    "budget_exporter_provider_api_cost_usd_total": "aws_cost_explorer only: no demo panel yet",
    "budget_exporter_provider_api_requests_month": "aws_cost_explorer only: no demo panel yet",
    "budget_exporter_provider_api_requests_month_limit": "aws_cost_explorer only: no demo panel",
    "budget_exporter_provider_forecast_spend": "aws_cost_explorer only: no demo panel yet",
    "budget_exporter_provider_query_scanned_bytes_total": "aws_athena only: no demo panel yet",
    "budget_exporter_provider_query_scanned_bytes_month": "aws_athena only: no demo panel yet",
    "budget_exporter_provider_query_scanned_bytes_month_limit": "aws_athena only: no demo panel",
    **DERIVED_COPIES,
}


def test_every_declared_metric_is_read_by_a_panel_or_a_rule() -> None:
    from budget_exporter.metrics.catalogue import FAMILIES

    declared = {spec.name for spec in FAMILIES}
    used = set().union(*(_metrics_in(json.dumps(m)) for m in DASHBOARD_MODELS.values()))
    used |= set().union(set(), *(_metrics_in(expr) for expr in _rule_expressions()))
    used |= _read_by_annotations()
    assert declared - used == set(NOT_SHOWN)


def test_the_dashboards_colour_utilization_at_the_exporters_default_thresholds() -> None:
    from budget_exporter.config.schema import DEFAULT_THRESHOLDS
    from mixin.money import THRESHOLD_SEVERITIES

    assert {row.severity: row.default_ratio for row in THRESHOLD_SEVERITIES} == DEFAULT_THRESHOLDS
