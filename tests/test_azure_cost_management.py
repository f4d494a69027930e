"""azure_cost_management against a local server shaped like Entra ID and the Query API."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from budget_exporter.config.loader import parse_config
from budget_exporter.model.errors import ConfigError, ProviderError
from budget_exporter.providers.base import ProviderContext
from budget_exporter.providers.cost.azure_cost_management import (
    AzureCostManagementConfig,
    AzureCostManagementProvider,
)
from fakeapi import Recorded, Reply, running

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
SCOPE = f"/subscriptions/{SUBSCRIPTION}"
QUERY = f"{SCOPE}/providers/Microsoft.CostManagement/query"
TOKEN = f"/{TENANT}/oauth2/v2.0/token"
SECRET = "planted~client~secret~value"
ACCESS_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.planted-access-token"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def token_reply() -> Reply:
    return Reply(
        {
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": ACCESS_TOKEN,
        }
    )


def query_result(
    columns: list[tuple[str, str]], rows: list[list[Any]], next_link: str | None
) -> Reply:
    """A QueryResult resource as the API returns it."""
    return Reply(
        {
            "id": f"{SCOPE}/providers/Microsoft.CostManagement/query/8c3b7e5a",
            "name": "8c3b7e5a-5f4d-4d52-9f0e-4b3b1c2d3e4f",
            "type": "Microsoft.CostManagement/query",
            "location": None,
            "sku": None,
            "eTag": None,
            "properties": {
                "nextLink": next_link,
                "columns": [{"name": name, "type": kind} for name, kind in columns],
                "rows": rows,
            },
        }
    )


def columns_with(cost_column: str) -> list[tuple[str, str]]:
    return [
        (cost_column, "Number"),
        ("UsageDate", "Number"),
        ("ServiceName", "String"),
        ("TagKey", "String"),
        ("TagValue", "String"),
        ("Currency", "String"),
    ]


def make_provider(api_url: str, tmp_path: Path, **overrides: Any) -> AzureCostManagementProvider:
    settings = {
        "type": "azure_cost_management",
        "scope": SCOPE,
        "group_by": ["ServiceName", "tag:team"],
        "tenant_id": TENANT,
        "client_id": "5d3c2b1a-0000-4000-8000-1234567890ab",
        "client_secret": SECRET,
        "management_endpoint": api_url,
        "authority_host": api_url,
        "history": "10d",
        **overrides,
    }
    config = AzureCostManagementConfig.model_validate(settings)
    provider = AzureCostManagementProvider(
        "azure", config, ProviderContext("UTC", "USD", str(tmp_path))
    )
    provider.http.retry.sleep = lambda seconds: None
    return provider


def total(frame: Any, **match: str) -> float:
    selected = frame
    for column, value in match.items():
        selected = selected[selected[column].astype(str) == value]
    return round(float(selected["cost"].sum()), 6)


@pytest.mark.parametrize("cost_column", ["Cost", "PreTaxCost"])
def test_two_pages_are_read_by_their_columns_with_currency_per_row(
    tmp_path: Path, cost_column: str
) -> None:
    with running() as api:
        next_link = f"{api.url}{QUERY}?api-version=2023-11-01&$skiptoken=AQAAAA%3D%3D"
        api.add("POST", TOKEN, token_reply())
        api.add(
            "POST",
            QUERY,
            query_result(
                columns_with(cost_column),
                [
                    [12.5, 20261118, "Storage", "team", "web", "EUR"],
                    [3.25, 20261118, "Virtual Machines", "", "", "EUR"],
                ],
                next_link,
            ),
            query_result(
                columns_with(cost_column),
                [
                    [7.0, 20261119, "Storage", "team", "data", "USD"],
                ],
                None,
            ),
        )
        data = make_provider(api.url, tmp_path).fetch(NOW)
        pages = api.calls("POST", QUERY)
        token_request = api.calls("POST", TOKEN)[0]
        base_url = api.url
    assert len(pages) == 2
    assert pages[1].query["$skiptoken"] == ["AQAAAA=="]
    assert pages[0].json == pages[1].json
    assert all(page.headers["authorization"] == f"Bearer {ACCESS_TOKEN}" for page in pages)
    assert token_request.form["grant_type"] == ["client_credentials"]
    assert token_request.form["scope"] == [f"{base_url}/.default"]
    frame = data.frame
    assert total(frame, currency="EUR") == 15.75
    assert total(frame, currency="USD") == 7.0
    assert total(frame, **{"tags.team": "web"}) == 12.5
    assert total(frame, ServiceName="Storage") == 19.5
    assert set(frame["ProviderName"].astype(str)) == {"Microsoft"}
    days = sorted({ts.isoformat() for ts in frame["start"]})
    assert days == ["2026-11-18T00:00:00+00:00", "2026-11-19T00:00:00+00:00"]


def test_the_query_asks_for_daily_amortized_cost_with_the_configured_grouping(
    tmp_path: Path,
) -> None:
    with running() as api:
        api.add("POST", TOKEN, token_reply())
        api.add("POST", QUERY, Reply(None, 204))
        make_provider(api.url, tmp_path, cost_type="AmortizedCost").fetch(NOW)
        sent = api.calls("POST", QUERY)[0]
    assert sent.query["api-version"] == ["2023-11-01"]
    body = sent.json
    assert body["type"] == "AmortizedCost"
    assert body["timeframe"] == "Custom"
    assert body["timePeriod"] == {
        "from": "2026-11-10T00:00:00+00:00",
        "to": "2026-11-20T23:59:59+00:00",
    }
    assert body["dataset"]["granularity"] == "Daily"
    assert body["dataset"]["grouping"] == [
        {"type": "Dimension", "name": "ServiceName"},
        {"type": "TagKey", "name": "team"},
    ]


@pytest.mark.parametrize(
    "usage_date", [20261119, "2026-11-19T00:00:00"], ids=["yyyymmdd", "iso date-time"]
)
def test_costs_in_usd_columns_are_dollars_on_their_usage_day(
    tmp_path: Path, usage_date: Any
) -> None:
    with running() as api:
        api.add("POST", TOKEN, token_reply())
        api.add(
            "POST",
            QUERY,
            query_result(
                [("CostUSD", "Number"), ("UsageDate", "Number"), ("ServiceName", "String")],
                [[4.5, usage_date, "Bandwidth"]],
                None,
            ),
        )
        data = make_provider(api.url, tmp_path, group_by=["ServiceName"]).fetch(NOW)
    assert total(data.frame, currency="USD", ServiceName="Bandwidth") == 4.5
    assert [ts.isoformat() for ts in data.frame["start"]] == ["2026-11-19T00:00:00+00:00"]


def test_charge_types_become_categories_and_other_dimensions_an_x_name(
    tmp_path: Path,
) -> None:
    columns = [
        ("Cost", "Number"),
        ("UsageDate", "Number"),
        ("ResourceGroupName", "String"),
        ("ChargeType", "String"),
        ("Currency", "String"),
    ]
    rows = [
        [20.0, 20261119, "rg-web", "Usage", "USD"],
        [300.0, 20261119, "rg-web", "Purchase", "USD"],
        [-5.0, 20261119, "rg-web", "Refund", "USD"],
    ]
    with running() as api:
        api.add("POST", TOKEN, token_reply())
        api.add("POST", QUERY, query_result(columns, rows, None))
        provider = make_provider(api.url, tmp_path, group_by=["ResourceGroupName", "ChargeType"])
        data = provider.fetch(NOW)
    frame = data.frame
    assert "ChargeType" not in frame.columns
    assert total(frame, x_ResourceGroupName="rg-web", charge_category="usage") == 20.0
    assert total(frame, charge_category="purchase") == 300.0
    assert total(frame, charge_category="refund") == -5.0


def test_no_content_means_no_rows_yet(tmp_path: Path) -> None:
    with running() as api:
        api.add("POST", TOKEN, token_reply())
        api.add("POST", QUERY, Reply(None, 204))
        data = make_provider(api.url, tmp_path).fetch(NOW)
    assert data.frame.empty
    assert data.data_end is None


def test_a_long_history_is_read_in_month_sized_queries_that_touch_end_to_end(
    tmp_path: Path,
) -> None:
    with running() as api:
        api.add("POST", TOKEN, token_reply())
        api.add("POST", QUERY, Reply(None, 204), Reply(None, 204))
        make_provider(api.url, tmp_path, history="40d").fetch(NOW)
        periods = [call.json["timePeriod"] for call in api.calls("POST", QUERY)]
    assert periods == [
        {"from": "2026-10-11T00:00:00+00:00", "to": "2026-11-10T23:59:59+00:00"},
        {"from": "2026-11-11T00:00:00+00:00", "to": "2026-11-20T23:59:59+00:00"},
    ]


def test_throttling_waits_for_the_longest_of_the_retry_after_headers(tmp_path: Path) -> None:
    waits: list[float] = []
    with running() as api:
        api.add("POST", TOKEN, token_reply())
        throttled = Reply(
            {"error": {"code": "429", "message": "Too many requests. Please retry."}},
            429,
            {
                "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": "7",
                "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after": "30",
                "x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after": "12",
                "Retry-After": "2",
            },
        )
        api.add("POST", QUERY, throttled, Reply(None, 204))
        provider = make_provider(api.url, tmp_path)
        provider.http.retry.sleep = waits.append
        provider.fetch(NOW)
        assert len(api.calls("POST", QUERY)) == 2
    assert waits == [30.0]


def test_a_server_error_is_retried(tmp_path: Path) -> None:
    with running() as api:
        api.add("POST", TOKEN, token_reply())
        api.add("POST", QUERY, Reply({"error": {"code": "ServerError"}}, 503), Reply(None, 204))
        make_provider(api.url, tmp_path).fetch(NOW)
        assert len(api.calls("POST", QUERY)) == 2


@pytest.mark.parametrize(
    ("route", "status", "expected"),
    [
        (QUERY, 401, "the credentials were rejected"),
        (QUERY, 403, "lack permission"),
        (TOKEN, 401, "check tenant_id, client_id and the client secret"),
    ],
    ids=["query unauthorized", "query forbidden", "token refused"],
)
def test_auth_failures_stop_at_once_and_never_show_secrets(
    tmp_path: Path, route: str, status: int, expected: str
) -> None:
    refusal = {
        "error": {"code": "AuthenticationFailed", "message": f"token {ACCESS_TOKEN} is not valid"}
    }
    with running() as api:
        if route == QUERY:
            api.add("POST", TOKEN, token_reply())
        api.add("POST", route, Reply(refusal, status))
        with pytest.raises(ProviderError) as raised:
            make_provider(api.url, tmp_path).fetch(NOW)
        assert len(api.calls("POST", route)) == 1
    message = str(raised.value)
    assert message.startswith("provider azure:")
    assert expected in message
    assert SECRET not in message
    assert ACCESS_TOKEN not in message


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"properties": {"columns": [{"name": "Cost", "type": "Number"}], "rows": [[1, 2, 3]]}},
            "rows do not match their columns",
        ),
        (
            {"properties": {"columns": [{"name": "Cost", "type": "Number"}], "rows": [[1.0]]}},
            "lacks a cost or UsageDate column",
        ),
        (
            {
                "properties": {
                    "columns": [{"name": "Cost", "type": "Number"}, {"name": "UsageDate"}],
                    "rows": [[1.0, "yesterday"]],
                }
            },
            "bad UsageDate or cost",
        ),
        ({"value": []}, "without properties"),
        ("<html>gateway</html>", "not JSON"),
    ],
    ids=["ragged rows", "no UsageDate", "bad UsageDate", "no properties", "html"],
)
def test_a_malformed_answer_is_a_clear_error(tmp_path: Path, payload: Any, expected: str) -> None:
    with running() as api:
        api.add("POST", TOKEN, token_reply())
        api.add("POST", QUERY, Reply(payload))
        with pytest.raises(ProviderError, match=expected):
            make_provider(api.url, tmp_path).fetch(NOW)


def test_a_next_link_to_another_host_is_refused_without_sending_the_token(
    tmp_path: Path,
) -> None:
    with running() as api:
        api.add("POST", TOKEN, token_reply())
        api.add(
            "POST",
            QUERY,
            query_result(columns_with("Cost"), [], "https://elsewhere.example/steal?$skiptoken=x"),
        )
        with pytest.raises(ProviderError, match="nextLink points outside"):
            make_provider(api.url, tmp_path).fetch(NOW)


def test_a_secret_file_is_read_from_beside_the_config(tmp_path: Path) -> None:
    (tmp_path / "azure-secret").write_text(SECRET + "\n")
    seen: list[Recorded] = []

    def token(request: Recorded) -> Reply:
        seen.append(request)
        return token_reply()

    with running() as api:
        api.add("POST", TOKEN, token)
        api.add("POST", QUERY, Reply(None, 204))
        make_provider(
            api.url, tmp_path, client_secret=None, client_secret_file="azure-secret"
        ).fetch(NOW)
    assert seen[0].form["client_secret"] == [SECRET]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ("group_by: [ServiceName, ResourceGroupName, MeterCategory]", "at most two"),
        ("group_by: ['tag:team', 'tag:env']", "at most one tag"),
        ("tenant_id: null", "needs tenant_id"),
        ("scope: subscriptions/x", "should match pattern"),
    ],
    ids=["three groupings", "two tags", "no tenant", "relative scope"],
)
def test_bad_settings_are_named_in_the_config_error(settings: str, expected: str) -> None:
    base = {
        "type": "azure_cost_management",
        "scope": SCOPE,
        "tenant_id": TENANT,
        "client_id": "app",
        "client_secret": "x",
    }
    lines = [f"    {key}: {value}" for key, value in base.items() if key != settings.split(":")[0]]
    text = "providers:\n  azure:\n" + "\n".join(lines) + f"\n    {settings}\n"
    with pytest.raises(ConfigError, match=expected) as raised:
        parse_config(text)
    assert "providers.azure" in str(raised.value)
