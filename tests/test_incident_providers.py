"""Incident providers against real files and a local HTTP server with documented payloads.

The API payloads follow the shapes of the vendors' documented responses: PagerDuty REST v2
``GET /incidents``, Statuspage ``/api/v2/incidents.json`` and management ``GET
/v1/pages/{page_id}/incidents``, Opsgenie ``GET /v1/incidents``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from budget_exporter.config.loader import parse_config
from budget_exporter.metrics.exposition import render
from budget_exporter.model.errors import ProviderError
from budget_exporter.model.incidents import IncidentData
from budget_exporter.providers.base import ProviderContext
from budget_exporter.providers.registry import build_provider
from budget_exporter.service.refresh import Refresher
from fakeapi import FakeApi, Reply, running

NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)
SECRET = "s3cr3t-token-value"
CONTEXT = ProviderContext(timezone="Europe/Paris", currency="USD", base_dir=".")


def provider_for(text: str, base_dir: str = ".") -> Any:
    """The single provider of a config snippet, built like the refresher builds it."""
    config = parse_config(text, base_dir=base_dir)
    ((name, settings),) = config.providers.items()
    context = ProviderContext(config.timezone, config.currency, config.base_dir)
    provider = build_provider(name, settings, context)
    if hasattr(provider, "client"):
        provider.client.retry.sleep = lambda seconds: None
    return provider


def by_id(data: IncidentData) -> dict[str, Any]:
    return {(i.id, i.service): i for i in data.incidents}


def samples(text: bytes, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Samples of one family, keyed by their sorted labels."""
    for family in text_string_to_metric_families(text.decode()):
        if family.name == name:
            return {tuple(sorted(s.labels.items())): s.value for s in family.samples}
    return {}


# --- incident files ---------------------------------------------------------------------------

YAML_FILE = """\
incidents:
  - id: INC-1
    service: api
    title: Database failover
    start: 2026-03-14T10:00:00Z
    end: 2026-03-14T10:21:36Z
    category: incident
    urgency: high
  - id: INC-2
    service: api
    title: Quarterly patching
    start: 2026-03-13T02:00:00
    duration: 1h
    category: Maintenance
  - id: INC-3
    service: api
    title: Missing start
  - id: INC-4
    service: api
    title: Still burning
    start: 2026-03-15T11:50:00+01:00
    impact: 0.5
"""

CSV_FILE = """\
id,service,title,start,end,duration,category,impact,urgency
C-1,search,Index rebuild,2026-03-10T08:00:00Z,,30m,deployment,,low
C-2,search,Slow queries,2026-03-11T08:00:00Z,2026-03-11T07:00:00Z,,incident,1,high
C-3,search,Partial outage,2026-03-12T08:00:00Z,2026-03-12T09:00:00Z,,incident,0.25,high
"""

# A tab: valid JSON that YAML refuses.
JSON_FILE = '[{"id": "J-1", "service":\t"api", "start": "2026-03-01T00:00:00Z", "duration": 600}]'


def test_incident_files_in_yaml_csv_and_json_are_normalized(tmp_path: Path):
    (tmp_path / "oncall.yaml").write_text(YAML_FILE)
    (tmp_path / "search.csv").write_text(CSV_FILE)
    (tmp_path / "old.json").write_text(JSON_FILE)
    provider = provider_for(
        "timezone: Europe/Paris\nproviders:\n  files: {type: incidents_file, "
        "paths: ['*.yaml', '*.csv', '*.json']}\n",
        str(tmp_path),
    )
    data = provider.fetch(NOW)
    found = by_id(data)
    assert sorted(key[0] for key in found) == ["C-1", "C-3", "INC-1", "INC-2", "INC-4", "J-1"]
    first = found[("INC-1", "api")]
    assert (first.start, first.end) == (
        datetime(2026, 3, 14, 10, tzinfo=UTC),
        datetime(2026, 3, 14, 10, 21, 36, tzinfo=UTC),
    )
    assert first.attributes == {"urgency": "high"}
    patching = found[("INC-2", "api")]
    assert patching.category == "maintenance"
    assert patching.start == datetime(2026, 3, 13, 1, tzinfo=UTC)  # local Paris time
    assert patching.end == datetime(2026, 3, 13, 2, tzinfo=UTC)
    open_one = found[("INC-4", "api")]
    assert (open_one.end, open_one.impact) == (None, 0.5)
    assert found[("C-1", "search")].end == datetime(2026, 3, 10, 8, 30, tzinfo=UTC)
    assert found[("C-3", "search")].impact == 0.25
    assert found[("J-1", "api")].end == datetime(2026, 3, 1, 0, 10, tzinfo=UTC)
    assert data.sources == 3
    reasons = {(Path(row.source).name, row.line): row.reason for row in data.bad_rows.examples}
    assert reasons == {
        ("oncall.yaml", 15): "start is missing",
        (
            "search.csv",
            3,
        ): "end 2026-03-11T07:00:00+00:00 is before start 2026-03-11T08:00:00+00:00",
    }


def test_a_file_that_turns_unreadable_keeps_the_last_good_incidents(tmp_path: Path):
    incidents = tmp_path / "oncall.yaml"
    incidents.write_text(YAML_FILE)
    config = parse_config(
        "providers:\n  files: {type: incidents_file, paths: [oncall.yaml]}\n"
        "slos:\n  - {name: api, objective: 99.9, provider: files, filter: {service: api},"
        " exclude_categories: [maintenance], labels: {team: platform}}\n",
        base_dir=str(tmp_path),
    )
    refresher = Refresher(config)
    refresher.refresh(NOW)
    before = render(refresher.snapshot(NOW))
    consumed = samples(before, "slo_error_budget_consumed_seconds")
    # 21.6 min resolved + 20 min open at half impact (10:50Z to 12:00Z... 70 min * 0.5).
    assert consumed == {(("slo", "api"), ("team", "platform")): pytest.approx(1296 + 35 * 60)}

    incidents.write_text("incidents:\n  - id: [unclosed\n")
    refresher.refresh(NOW + timedelta(hours=2), ["files"])
    health = refresher.health["files"]
    assert not health.up
    assert "oncall.yaml" in (health.last_error or "")
    after = render(refresher.snapshot(NOW))
    assert samples(after, "slo_error_budget_consumed_seconds") == consumed
    assert samples(after, "budget_exporter_provider_up") == {
        (("provider", "files"), ("type", "incidents_file")): 0.0
    }


# --- PagerDuty ------------------------------------------------------------------------------


def pagerduty_incident(
    ident: str, created: str, status: str, resolved: str | None, service: str = "Checkout API"
) -> dict[str, Any]:
    """An incident object as PagerDuty's List Incidents documents it."""
    base = "https://api.pagerduty.com"
    return {
        "id": ident,
        "type": "incident",
        "summary": f"[#{ident}] Error rate above 5%",
        "self": f"{base}/incidents/{ident}",
        "html_url": f"https://acme.pagerduty.com/incidents/{ident}",
        "incident_number": 1234,
        "title": "Error rate above 5%",
        "created_at": created,
        "updated_at": resolved or created,
        "status": status,
        "incident_key": "baf7cf21b1da41b4b0221008339ff357",
        "service": {
            "id": "PIJ90N7",
            "type": "service_reference",
            "summary": service,
            "self": f"{base}/services/PIJ90N7",
            "html_url": "https://acme.pagerduty.com/service-directory/PIJ90N7",
        },
        "assignments": [],
        "assigned_via": "escalation_policy",
        "last_status_change_at": resolved or created,
        "resolved_at": resolved,
        "first_trigger_log_entry": {
            "id": "Q02JTSNZWHSEKV",
            "type": "trigger_log_entry_reference",
            "summary": "Triggered through the API",
        },
        "alert_counts": {"all": 2, "triggered": 0, "resolved": 2},
        "is_mergeable": True,
        "escalation_policy": {
            "id": "PT20YPA",
            "type": "escalation_policy_reference",
            "summary": "Checkout on-call",
        },
        "teams": [{"id": "PQ9K7I8", "type": "team_reference", "summary": "Payments"}],
        "pending_actions": [],
        "acknowledgements": [],
        "priority": {"id": "P53ZZH5", "type": "priority_reference", "summary": "P1"},
        "urgency": "high",
    }


def pagerduty_page(incidents: list[dict[str, Any]], offset: int, more: bool) -> dict[str, Any]:
    return {"incidents": incidents, "limit": 2, "offset": offset, "total": None, "more": more}


def pagerduty_config(api: FakeApi, token_file: Path) -> str:
    return (
        f"providers:\n  pd: {{type: pagerduty, base_url: '{api.url}', token_file: '{token_file}',"
        " service_ids: [PIJ90N7], page_size: 2, lookback: 30d}\n"
        "slos:\n  - {name: checkout, objective: 99.9, provider: pd, filter: {urgency: high}}\n"
    )


def test_pagerduty_pages_through_incidents_and_waits_out_a_429(tmp_path: Path):
    token_file = tmp_path / "token"
    token_file.write_text(SECRET + "\n")
    with running() as api:
        api.add(
            "GET",
            "/incidents",
            Reply(
                {"error": {"message": "Rate Limit Exceeded", "code": 2020}},
                429,
                {"ratelimit-reset": "3"},
            ),
            Reply(
                pagerduty_page(
                    [
                        pagerduty_incident(
                            "P1", "2026-03-14T10:00:00Z", "resolved", "2026-03-14T10:21:36Z"
                        ),
                        {"id": "PBROKEN", "status": "triggered"},
                    ],
                    0,
                    True,
                )
            ),
            Reply(
                pagerduty_page(
                    [pagerduty_incident("P2", "2026-03-15T11:55:00Z", "acknowledged", None)],
                    2,
                    False,
                )
            ),
            Reply(
                pagerduty_page(
                    [
                        pagerduty_incident("P2", "2026-03-15T11:55:00Z", "acknowledged", None),
                        pagerduty_incident("P0", "2025-12-01T00:00:00Z", "triggered", None),
                    ],
                    0,
                    False,
                )
            ),
        )
        provider = provider_for(pagerduty_config(api, token_file))
        waits: list[float] = []
        provider.client.retry.sleep = waits.append
        data = provider.fetch(NOW)
        calls = api.calls("GET", "/incidents")

    assert waits == [3.0]
    found = by_id(data)
    assert set(found) == {("P1", "Checkout API"), ("P2", "Checkout API"), ("P0", "Checkout API")}
    resolved = found[("P1", "Checkout API")]
    assert resolved.end == datetime(2026, 3, 14, 10, 21, 36, tzinfo=UTC)
    assert resolved.attributes["urgency"] == "high"
    assert resolved.attributes["priority"] == "P1"
    assert resolved.attributes["teams"] == "Payments"
    assert found[("P2", "Checkout API")].end is None
    assert data.bad_rows.count == 1
    assert "created_at is missing" in data.bad_rows.examples[0].reason
    assert [call.query["offset"] for call in calls] == [["0"], ["0"], ["2"], ["0"]]
    first = calls[1]
    assert first.query["since"] == [(NOW - timedelta(days=30)).isoformat()]
    assert first.query["until"] == [NOW.isoformat()]
    assert first.query["service_ids[]"] == ["PIJ90N7"]
    assert first.query["statuses[]"] == ["triggered", "acknowledged", "resolved"]
    assert calls[3].query["date_range"] == ["all"]
    assert calls[3].query["statuses[]"] == ["triggered", "acknowledged"]
    assert first.headers["authorization"] == f"Token token={SECRET}"
    assert first.headers["accept"] == "application/vnd.pagerduty+json;version=2"


def test_pagerduty_failing_with_500_keeps_the_last_good_slo_numbers(tmp_path: Path):
    token_file = tmp_path / "token"
    token_file.write_text(SECRET)
    with running() as api:
        good = pagerduty_page(
            [pagerduty_incident("P1", "2026-03-14T10:00:00Z", "resolved", "2026-03-14T10:21:36Z")],
            0,
            False,
        )
        api.add("GET", "/incidents", Reply(good), Reply(pagerduty_page([], 0, False)))
        api.add("GET", "/incidents", *[Reply({"error": "internal"}, 500)] * 4)
        refresher = Refresher(parse_config(pagerduty_config(api, token_file)))
        refresher.providers["pd"].client.retry.sleep = lambda seconds: None
        refresher.refresh(NOW)
        before = render(refresher.snapshot(NOW))
        refresher.refresh(NOW + timedelta(hours=1), ["pd"])
        after = render(refresher.snapshot(NOW))
        url = api.url

    assert samples(before, "slo_error_budget_remaining_ratio") == {
        (("slo", "checkout"),): pytest.approx(0.5)
    }
    assert samples(after, "slo_error_budget_remaining_ratio") == samples(
        before, "slo_error_budget_remaining_ratio"
    )
    health = refresher.health["pd"]
    assert not health.up
    assert health.last_error == (
        f"provider pd: GET {url}/incidents answered HTTP 500 after 4 attempts"
    )
    assert SECRET not in after.decode()


@pytest.mark.parametrize(
    "payload",
    [{"incident": []}, ["not", "an", "object"], {"incidents": "none"}],
    ids=["a missing incidents list", "a list instead of an object", "incidents not a list"],
)
def test_pagerduty_malformed_payload_is_a_clear_error(tmp_path: Path, payload: Any):
    token_file = tmp_path / "token"
    token_file.write_text(SECRET)
    with running() as api:
        api.add("GET", "/incidents", Reply(payload))
        provider = provider_for(pagerduty_config(api, token_file))
        with pytest.raises(ProviderError) as caught:
            provider.fetch(NOW)
        url = api.url
    assert str(caught.value) == (
        f"provider pd: GET {url}/incidents answered a malformed payload: "
        "expected an object with an 'incidents' list"
    )


# --- Statuspage -----------------------------------------------------------------------------


def statuspage_incident(
    ident: str,
    created: str,
    resolved: str | None,
    impact: str,
    components: list[str],
    scheduled: str | None = None,
) -> dict[str, Any]:
    """An incident as Statuspage's feed and management API document it (page-local offsets)."""
    return {
        "id": ident,
        "name": "Elevated API error rates",
        "status": "resolved" if resolved else "investigating",
        "created_at": created,
        "updated_at": resolved or created,
        "monitoring_at": None,
        "resolved_at": resolved,
        "impact": impact,
        "shortlink": f"https://stspg.io/{ident}",
        "started_at": created,
        "page_id": "y2j98763l56x",
        "scheduled_for": scheduled,
        "scheduled_until": None,
        "incident_updates": [
            {
                "id": "upd1",
                "status": "resolved" if resolved else "investigating",
                "body": "We are looking into it.",
                "incident_id": ident,
                "created_at": created,
                "updated_at": created,
                "display_at": created,
                "affected_components": None,
            }
        ],
        "components": [
            {
                "id": f"cmp-{name}",
                "name": name,
                "status": "major_outage",
                "created_at": "2024-01-01T00:00:00.000-05:00",
                "updated_at": created,
                "position": 1,
                "description": None,
                "showcase": True,
                "start_date": None,
                "group_id": None,
                "page_id": "y2j98763l56x",
                "group": False,
                "only_show_if_degraded": False,
            }
            for name in components
        ],
    }


def test_statuspage_public_feed_maps_impact_and_components():
    feed = {
        "page": {
            "id": "y2j98763l56x",
            "name": "Acme",
            "url": "https://status.acme.test",
            "time_zone": "America/New_York",
            "updated_at": "2026-03-15T06:00:00.000-04:00",
        },
        "incidents": [
            statuspage_incident(
                "inc1",
                "2026-03-14T06:00:00.000-04:00",
                "2026-03-14T06:40:00.000-04:00",
                "major",
                ["API", "Dashboard"],
            ),
            statuspage_incident("inc2", "2026-03-15T07:30:00.000-04:00", None, "critical", []),
            statuspage_incident(
                "inc3",
                "2026-03-13T01:00:00.000-04:00",
                "2026-03-13T02:00:00.000-04:00",
                "none",
                ["API"],
                scheduled="2026-03-13T01:00:00.000-04:00",
            ),
            statuspage_incident("inc4", "2026-03-12T01:00:00.000-04:00", None, "apocalyptic", []),
        ],
    }
    with running() as api:
        api.add("GET", "/api/v2/incidents.json", Reply(feed))
        provider = provider_for(
            f"providers:\n  sp: {{type: statuspage, url: '{api.url}',"
            " impact_weights: {none: 0, minor: 0.1, major: 0.5, critical: 1}}\n"
        )
        data = provider.fetch(NOW)
    found = by_id(data)
    assert set(found) == {("inc1", "API"), ("inc1", "Dashboard"), ("inc2", ""), ("inc3", "API")}
    api_outage = found[("inc1", "API")]
    assert api_outage.start == datetime(2026, 3, 14, 10, tzinfo=UTC)
    assert api_outage.end == datetime(2026, 3, 14, 10, 40, tzinfo=UTC)
    assert api_outage.impact == 0.5
    assert (found[("inc2", "")].end, found[("inc2", "")].impact) == (None, 1.0)
    assert found[("inc3", "API")].category == "maintenance"
    assert data.bad_rows.count == 1
    assert "impact 'apocalyptic' has no weight" in data.bad_rows.examples[0].reason


def test_statuspage_management_api_pages_and_retries_a_429(tmp_path: Path):
    key_file = tmp_path / "key"
    key_file.write_text(SECRET)
    page_one = [
        statuspage_incident(
            f"n{k}",
            f"2026-03-1{k}T10:00:00.000+01:00",
            f"2026-03-1{k}T10:30:00.000+01:00",
            "critical",
            ["Checkout"],
        )
        for k in (4, 3)
    ]
    page_two = [
        statuspage_incident(
            "n2", "2026-03-12T10:00:00.000+01:00", "2026-03-12T10:06:00.000+01:00", "minor", []
        )
    ]
    with running() as api:
        route = "/v1/pages/y2j98763l56x/incidents"
        api.add(
            "GET",
            route,
            Reply(page_one),
            Reply({"error": "rate limited"}, 429, {"Retry-After": "1"}),
            Reply(page_two),
        )
        provider = provider_for(
            f"providers:\n  sp: {{type: statuspage, page_id: y2j98763l56x, api_url: '{api.url}/v1',"
            f" api_key_file: '{key_file}', page_size: 2}}\n"
        )
        waits: list[float] = []
        provider.client.retry.sleep = waits.append
        data = provider.fetch(NOW)
        calls = api.calls("GET", route)
    assert waits == [1.0]
    assert [(c.query["page"], c.query["per_page"]) for c in calls] == [
        (["1"], ["2"]),
        (["2"], ["2"]),
        (["2"], ["2"]),
    ]
    assert calls[0].headers["authorization"] == f"OAuth {SECRET}"
    assert sorted(i.id for i in data.incidents) == ["n2", "n3", "n4"]
    assert by_id(data)[("n2", "")].impact == 0.25


def test_statuspage_malformed_management_answer_is_a_clear_error(tmp_path: Path):
    key_file = tmp_path / "key"
    key_file.write_text(SECRET)
    with running() as api:
        api.add("GET", "/v1/pages/p1/incidents", Reply({"incidents": []}))
        provider = provider_for(
            f"providers:\n  sp: {{type: statuspage, page_id: p1, api_url: '{api.url}/v1',"
            f" api_key_file: '{key_file}'}}\n"
        )
        with pytest.raises(ProviderError, match="malformed payload: expected a list of incidents"):
            provider.fetch(NOW)


# --- Opsgenie -------------------------------------------------------------------------------


def opsgenie_incident(
    ident: str, created: str, status: str, updated: str, services: list[str]
) -> dict[str, Any]:
    """An incident as Opsgenie's List Incidents documents it."""
    return {
        "id": ident,
        "tinyId": ident[-2:],
        "message": "Checkout latency above SLO",
        "status": status,
        "tags": ["customer-facing", "checkout"],
        "createdAt": created,
        "updatedAt": updated,
        "priority": "P1",
        "ownerTeam": "payments",
        "responders": [{"type": "team", "id": "8418d193-2dab-4490-b331-8c02cdd196b7"}],
        "extraProperties": {},
        "impactedServices": services,
        "links": {
            "web": f"https://acme.app.opsgenie.com/incident/detail/{ident}",
            "api": f"https://api.opsgenie.com/v1/incidents/{ident}",
        },
        "actions": [],
    }


def opsgenie_page(data: list[dict[str, Any]], next_url: str | None) -> dict[str, Any]:
    paging = {"first": "https://api.opsgenie.com/v1/incidents?offset=0&limit=2"}
    if next_url:
        paging["next"] = next_url
    return {"data": data, "paging": paging, "took": 0.12, "requestId": "7f1c2a"}


def test_opsgenie_pages_through_incidents_and_survives_a_500(tmp_path: Path):
    key_file = tmp_path / "key"
    key_file.write_text(SECRET)
    with running() as api:
        api.add(
            "GET",
            "/v1/incidents",
            Reply({"message": "Internal error"}, 500),
            Reply(
                opsgenie_page(
                    [
                        opsgenie_incident(
                            "og-11",
                            "2026-03-15T11:40:00.000Z",
                            "open",
                            "2026-03-15T11:41:00.000Z",
                            ["svc-1"],
                        ),
                        opsgenie_incident(
                            "og-10",
                            "2026-03-14T09:00:00.000Z",
                            "resolved",
                            "2026-03-14T09:45:00.000Z",
                            ["svc-1", "svc-2"],
                        ),
                    ],
                    f"{api.url}/v1/incidents?offset=2&limit=2",
                )
            ),
            Reply(
                opsgenie_page(
                    [
                        opsgenie_incident(
                            "og-09",
                            "2025-10-01T09:00:00.000Z",
                            "closed",
                            "2025-10-01T10:00:00.000Z",
                            [],
                        )
                    ],
                    None,
                )
            ),
        )
        provider = provider_for(
            f"providers:\n  og: {{type: opsgenie, region: eu, base_url: '{api.url}',"
            f" api_key_file: '{key_file}', page_size: 2, query: 'tag:checkout',"
            " service_names: {svc-1: checkout}}\n"
        )
        data = provider.fetch(NOW)
        calls = api.calls("GET", "/v1/incidents")
    assert [c.query["offset"] for c in calls] == [["0"], ["0"], ["2"]]
    assert calls[0].headers["authorization"] == f"GenieKey {SECRET}"
    assert calls[0].query["query"] == ["tag:checkout"]
    found = by_id(data)
    # og-09 was closed before the 90-day lookback began.
    assert set(found) == {("og-11", "checkout"), ("og-10", "checkout"), ("og-10", "svc-2")}
    assert found[("og-11", "checkout")].end is None
    assert found[("og-10", "svc-2")].end == datetime(2026, 3, 14, 9, 45, tzinfo=UTC)
    assert found[("og-10", "svc-2")].attributes["priority"] == "P1"


def test_opsgenie_region_picks_the_eu_host():
    provider = provider_for("providers:\n  og: {type: opsgenie, region: eu, api_key: k}\n")
    assert provider.settings.base_url is None
    from budget_exporter.providers.incidents.opsgenie import HOSTS

    assert HOSTS[provider.settings.region] == "https://api.eu.opsgenie.com"


def test_opsgenie_malformed_payload_is_a_clear_error(tmp_path: Path):
    with running() as api:
        api.add("GET", "/v1/incidents", Reply("<html>maintenance</html>"))
        provider = provider_for(
            f"providers:\n  og: {{type: opsgenie, base_url: '{api.url}', api_key: k}}\n"
        )
        with pytest.raises(ProviderError) as caught:
            provider.fetch(NOW)
        url = api.url
    assert str(caught.value) == (
        f"provider og: GET {url}/v1/incidents answered with a body that is not JSON"
    )


# --- demo -----------------------------------------------------------------------------------


def test_demo_incidents_are_the_same_for_the_same_moment_and_one_is_open():
    provider = provider_for("providers:\n  oncall: {type: demo_incidents}\n")
    first = provider.fetch(NOW)
    assert first == provider.fetch(NOW)
    open_ones = [i for i in first.incidents if i.end is None]
    assert [(i.service, i.start) for i in open_ones] == [("checkout", NOW - timedelta(minutes=25))]
    assert all(i.end <= NOW for i in first.incidents if i.end is not None)
    assert {"maintenance", "incident"} <= {i.category for i in first.incidents}


# --- secrets --------------------------------------------------------------------------------

SECRET_FILE_SOURCES = [
    ("pagerduty", "token_file", "/incidents", {"incidents": [], "more": False}, "Token token="),
    ("opsgenie", "api_key_file", "/v1/incidents", {"data": []}, "GenieKey "),
    ("statuspage", "api_key_file", "/v1/pages/p1/incidents", [], "OAuth "),
]


@pytest.mark.parametrize(
    ("kind", "key", "route", "answer", "scheme"),
    SECRET_FILE_SOURCES,
    ids=[source[0] for source in SECRET_FILE_SOURCES],
)
def test_a_relative_secret_file_is_read_from_the_config_folder(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    key: str,
    route: str,
    answer: Any,
    scheme: str,
):
    folder = tmp_path / "conf"
    (folder / "secrets").mkdir(parents=True)
    (folder / "secrets" / "key").write_text(SECRET + "\n")
    monkeypatch.chdir(tmp_path)  # secrets/key does not exist from the working folder
    with running() as api:
        api.add("GET", route, *[Reply(answer)] * 2)
        where = f"page_id: p1, api_url: '{api.url}/v1'" if kind == "statuspage" else ""
        where = where or f"base_url: '{api.url}'"
        provider = provider_for(
            f"providers:\n  src: {{type: {kind}, {key}: secrets/key, {where}}}\n",
            base_dir=str(folder),
        )
        provider.fetch(NOW)
        calls = api.calls("GET", route)
    assert calls[0].headers["authorization"] == f"{scheme}{SECRET}"


@pytest.mark.parametrize(("kind", "key"), [(s[0], s[1]) for s in SECRET_FILE_SOURCES])
def test_an_unreadable_secret_file_names_the_setting_and_the_file(
    tmp_path: Path, kind: str, key: str
):
    where = "page_id: p1" if kind == "statuspage" else "base_url: 'http://127.0.0.1:9'"
    provider = provider_for(
        f"providers:\n  src: {{type: {kind}, {key}: absent, {where}}}\n", base_dir=str(tmp_path)
    )
    with pytest.raises(ValueError) as caught:
        provider.fetch(NOW)
    assert f"provider src: {key}: cannot read secret file {tmp_path / 'absent'}" in str(
        caught.value
    )
