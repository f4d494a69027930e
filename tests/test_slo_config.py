"""The ``slos:`` section: valid SLOs load, and each mistake is named with its place."""

from datetime import UTC, datetime, timedelta

import pytest

from budget_exporter.config.loader import load_config, parse_config
from budget_exporter.evaluation.evaluate import slo_spec, unknown_slo_filter_keys
from budget_exporter.model.errors import ConfigError
from budget_exporter.model.incidents import Incident, IncidentData
from budget_exporter.model.periods import PeriodKind

PROVIDERS = """
providers:
  costs: {type: demo}
  oncall: {type: demo_incidents}
"""


def test_an_slo_loads_with_its_defaults():
    config = parse_config(
        PROVIDERS
        + """
slos:
  - name: api-availability
    objective: 99.9
    provider: oncall
    filter: {service: api, urgency: high}
    exclude_categories: [Maintenance]
    labels: {team: platform}
"""
    )
    (slo,) = config.slos
    assert slo.objective_ratio == 0.999
    assert slo.rolling_window == timedelta(days=30)
    assert slo.calendar_period is None
    assert slo.filter == {"service": ("api",), "urgency": ("high",)}
    assert slo.exclude_categories == ("maintenance",)
    assert slo.horizons == (timedelta(days=30),)


def test_a_calendar_slo_has_no_rolling_window():
    config = parse_config(
        PROVIDERS + "slos: [{name: q, objective: 99, calendar: quarter, provider: oncall}]"
    )
    assert config.slos[0].rolling_window is None
    assert config.slos[0].calendar_period is PeriodKind.QUARTERLY


def test_the_demo_config_has_slos_on_its_incident_provider():
    config = load_config(None)
    assert len(config.slos) >= 2
    assert {slo.provider for slo in config.slos} == {"oncall"}


@pytest.mark.parametrize(
    ("covered", "history"),
    [(None, timedelta(days=90)), (timedelta(days=30), timedelta(days=30))],
    ids=["files keep the whole history", "an api fetched 30 days learns from 30 days"],
)
def test_the_probability_history_is_cut_to_what_the_provider_fetched(covered, history):
    config = parse_config(PROVIDERS + "slos: [{name: a, objective: 99.9, provider: oncall}]")
    assert slo_spec(config.slos[0], covered).history == history


def test_a_filter_key_no_incident_carries_is_reported_as_a_likely_typo():
    config = parse_config(
        PROVIDERS + "slos: [{name: a, objective: 99.9, provider: oncall,"
        " filter: {service: api, urgncy: high}}]"
    )
    incident = Incident(
        "1", "api", "t", datetime(2026, 3, 1, tzinfo=UTC), attributes={"urgency": "high"}
    )
    warnings = unknown_slo_filter_keys(config, {"oncall": IncidentData((incident,), None)})
    assert warnings == [
        "slo 'a': filter key 'urgncy' is not a field or attribute of the incidents of provider "
        "'oncall'; known: category, id, service, title, urgency"
    ]


ERROR_CASES = [
    pytest.param(
        "slos: [{name: a, objective: 99.9, provider: costs}]",
        "slos[0].provider",
        "is a cost source (type demo); SLOs need an incident provider",
        id="an slo on a cost provider is refused",
    ),
    pytest.param(
        "budgets: [{name: b, amount: 10, period: monthly, provider: oncall}]",
        "budgets[0].provider",
        "is an incident source (type demo_incidents); budgets need a cost provider",
        id="a budget on an incident provider is refused",
    ),
    pytest.param(
        "slos: [{name: a, objective: 99.9, provider: nowhere}]",
        "slos[0].provider",
        "unknown provider 'nowhere'; incident providers defined: oncall",
        id="an unknown provider is named with the ones defined",
    ),
    pytest.param(
        "slos: [{name: a, objective: 0.999, provider: oncall}]",
        "slos[0].objective",
        "0.999 looks like a ratio, write 99.9",
        id="an objective written as a ratio is caught",
    ),
    pytest.param(
        "slos: [{name: a, objective: 100, provider: oncall}]",
        "slos[0].objective",
        "percentage above 0 and below 100",
        id="a hundred percent leaves no budget",
    ),
    pytest.param(
        "slos: [{name: a, objective: 99, window: 30d, calendar: month, provider: oncall}]",
        "slos[0]",
        "either window (rolling) or calendar",
        id="a window and a calendar together are refused",
    ),
    pytest.param(
        "slos: [{name: a, objective: 99, window: 5m, provider: oncall}]",
        "slos[0].window",
        "between 1h and 3660d",
        id="a window shorter than an hour is refused",
    ),
    pytest.param(
        "slos: [{name: a, objective: 99, provider: oncall, labels: {window: x}}]",
        "slos[0].labels",
        "reserved",
        id="a label the exporter uses is refused",
    ),
    pytest.param(
        "slos: [{name: a, objective: 99, provider: oncall},"
        " {name: a, objective: 98, provider: oncall}]",
        "slos[1].name",
        "duplicate SLO name 'a' (also slos[0])",
        id="two slos with one name are refused",
    ),
    pytest.param(
        "slos: [{name: a, objective: 99, window: 120d, provider: oncall}]",
        "slos[0].window",
        "window 120d is longer than provider 'oncall' looks back (100d)",
        id="a window longer than the provider looks back is refused",
    ),
    pytest.param(
        "slos: [{name: a, objective: 99, provider: oncall, windwo: 30d}]",
        "slos[0].windwo",
        "unknown key",
        id="a misspelt key is refused",
    ),
]


@pytest.mark.parametrize(("section", "path", "message"), ERROR_CASES)
def test_config_mistakes_are_named_with_their_place(section, path, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(PROVIDERS + section, "slo.yml")
    found = [(p.path, p.message) for p in caught.value.problems]
    assert any(p == path and message in m for p, m in found), found
    assert all(problem.file == "slo.yml" for problem in caught.value.problems)


@pytest.mark.parametrize(
    ("settings", "path", "message"),
    [
        ("{type: pagerduty}", "providers.pd", "exactly one of token"),
        ("{type: opsgenie, api_key: k, region: asia}", "providers.pd.region", "'us' or 'eu'"),
        ("{type: statuspage}", "providers.pd", "either url"),
        ("{type: statuspage, page_id: p}", "providers.pd", "needs api_key"),
        ("{type: incidents_file}", "providers.pd.paths", "required key is missing"),
    ],
    ids=[
        "pagerduty needs a token",
        "opsgenie knows two regions",
        "statuspage needs a page",
        "the statuspage management api needs a key",
        "an incident file provider needs paths",
    ],
)
def test_incident_provider_settings_are_checked(settings, path, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(f"providers:\n  pd: {settings}\n")
    found = [(p.path, p.message) for p in caught.value.problems]
    assert any(p == path and message in m for p, m in found), found
