"""opencost against a local server shaped like OpenCost's /allocation/compute API."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from budget_exporter.config.loader import parse_config
from budget_exporter.model.errors import ConfigError, ProviderError
from budget_exporter.providers.base import ProviderContext
from budget_exporter.providers.cost.opencost import OpenCostConfig, OpenCostProvider
from fakeapi import Reply, running

ALLOCATION = "/allocation/compute"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
TOKEN = "planted-proxy-bearer-token"


def allocation(
    name: str,
    day: str,
    total: float | None,
    namespace: str | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An allocation as OpenCost serializes it, efficiencies null when it cannot compute them."""
    start, end = f"{day}T00:00:00Z", f"{day[:8]}{int(day[8:]) + 1:02d}T00:00:00Z"
    properties: dict[str, Any] = {"cluster": "cluster-one"}
    if namespace:
        properties["namespace"] = namespace
    if labels:
        properties["labels"] = labels
    return {
        "name": name,
        "properties": properties,
        "window": {"start": start, "end": end},
        "start": start,
        "end": end,
        "minutes": 1440,
        "cpuCores": 0.5,
        "cpuCoreRequestAverage": 0.25,
        "cpuCoreUsageAverage": 0.1,
        "cpuCoreHours": 12,
        "cpuCost": 0.3,
        "cpuCostAdjustment": 0,
        "cpuEfficiency": None,
        "gpuCount": 0,
        "gpuHours": 0,
        "gpuCost": 0,
        "gpuCostAdjustment": 0,
        "networkCost": 0,
        "loadBalancerCost": 0,
        "pvCost": 0,
        "ramBytes": 1073741824,
        "ramCost": 0.2,
        "ramEfficiency": None,
        "sharedCost": 0,
        "externalCost": 0,
        "totalCost": total,
        "totalEfficiency": None,
        "rawAllocationOnly": None,
    }


def two_days() -> Reply:
    return Reply(
        {
            "code": 200,
            "status": "success",
            "data": [
                {
                    "payments/team=checkout": allocation(
                        "payments/team=checkout",
                        "2026-11-18",
                        4.25,
                        "payments",
                        {"team": "checkout"},
                    ),
                    "kube-system/__unallocated__": allocation(
                        "kube-system/__unallocated__", "2026-11-18", 1.5, "kube-system"
                    ),
                    "__idle__": allocation("__idle__", "2026-11-18", 2.0),
                },
                {
                    "payments/team=checkout": allocation(
                        "payments/team=checkout",
                        "2026-11-19",
                        5.75,
                        "payments",
                        {"team": "checkout"},
                    ),
                    "__idle__": allocation("__idle__", "2026-11-19", 1.0),
                },
                None,
            ],
        }
    )


def make_provider(api_url: str, tmp_path: Path, **overrides: Any) -> OpenCostProvider:
    settings = {
        "type": "opencost",
        "url": api_url,
        "aggregate": ["namespace", "label:team"],
        "currency": "EUR",
        "history": "7d",
        **overrides,
    }
    config = OpenCostConfig.model_validate(settings)
    provider = OpenCostProvider("k8s", config, ProviderContext("UTC", "USD", str(tmp_path)))
    provider.http.retry.sleep = lambda seconds: None
    return provider


def total(frame: Any, **match: str) -> float:
    selected = frame
    for column, value in match.items():
        selected = selected[selected[column].astype(str) == value]
    return round(float(selected["cost"].sum()), 6)


def test_daily_allocations_become_rows_per_namespace_and_label_with_idle_kept(
    tmp_path: Path,
) -> None:
    with running() as api:
        api.add("GET", ALLOCATION, two_days())
        data = make_provider(api.url, tmp_path).fetch(NOW)
        sent = api.calls("GET", ALLOCATION)[0]
    assert sent.query["window"] == ["2026-11-13T00:00:00Z,2026-11-20T12:00:00Z"]
    assert sent.query["aggregate"] == ["namespace,label:team"]
    assert sent.query["step"] == ["1d"]
    assert sent.query["accumulate"] == ["false"]
    assert sent.query["includeIdle"] == ["true"]
    frame = data.frame
    assert total(frame) == 4.25 + 1.5 + 2.0 + 5.75 + 1.0
    assert total(frame, x_Namespace="payments", **{"tags.team": "checkout"}) == 10.0
    assert total(frame, x_Namespace="__idle__") == 3.0
    assert total(frame, **{"tags.team": "__idle__"}) == 3.0
    assert total(frame, **{"tags.team": "__unallocated__"}) == 1.5
    assert set(frame["currency"].astype(str)) == {"EUR"}
    assert sorted({ts.isoformat() for ts in frame["start"]}) == [
        "2026-11-18T00:00:00+00:00",
        "2026-11-19T00:00:00+00:00",
    ]
    assert data.bad_rows.count == 0


def test_controllers_keep_their_kind_and_currency_defaults_to_the_exporters(
    tmp_path: Path,
) -> None:
    body = {
        "code": 200,
        "data": [
            {
                "deployment:checkout-api": allocation(
                    "deployment:checkout-api", "2026-11-19", 3.0, "payments"
                )
            }
        ],
    }
    with running() as api:
        api.add("GET", ALLOCATION, Reply(body))
        data = make_provider(api.url, tmp_path, aggregate="controller", currency=None).fetch(NOW)
    assert total(data.frame, x_Controller="deployment:checkout-api", currency="USD") == 3.0


def test_todays_allocation_ends_now_so_its_cost_is_not_spread_into_the_future(
    tmp_path: Path,
) -> None:
    body = {
        "code": 200,
        "data": [{"payments": allocation("payments", "2026-11-20", 2.0, "payments")}],
    }
    with running() as api:
        api.add("GET", ALLOCATION, Reply(body))
        data = make_provider(api.url, tmp_path, aggregate="namespace").fetch(NOW)
    assert data.frame["end"].max().isoformat() == "2026-11-20T12:00:00+00:00"
    assert data.data_end == NOW


def test_an_allocation_without_a_cost_is_a_bad_row_and_the_rest_is_kept(tmp_path: Path) -> None:
    body = {
        "code": 200,
        "data": [
            {
                "payments": allocation("payments", "2026-11-19", 3.0, "payments"),
                "broken": allocation("broken", "2026-11-19", None, "broken"),
            }
        ],
    }
    with running() as api:
        api.add("GET", ALLOCATION, Reply(body))
        data = make_provider(api.url, tmp_path, aggregate="namespace").fetch(NOW)
    assert total(data.frame) == 3.0
    assert data.bad_rows.count == 1
    assert "totalCost is not a number" in str(data.bad_rows.examples[0])


def test_a_second_refresh_rereads_only_recent_days(tmp_path: Path) -> None:
    with running() as api:
        api.add("GET", ALLOCATION, two_days(), Reply({"code": 200, "data": [{}]}))
        provider = make_provider(api.url, tmp_path, settlement_lag="1d")
        provider.fetch(NOW)
        data = provider.fetch(NOW)
        windows = [call.query["window"][0] for call in api.calls("GET", ALLOCATION)]
    assert windows[1] == "2026-11-19T00:00:00Z,2026-11-20T12:00:00Z"
    # 2026-11-18 is kept from the first read; 2026-11-19 was re-read and is now empty.
    assert total(data.frame) == 4.25 + 1.5 + 2.0


def test_a_restarted_provider_with_a_cache_folder_rereads_only_recent_days(
    tmp_path: Path,
) -> None:
    context = ProviderContext("UTC", "USD", str(tmp_path), cache_dir=str(tmp_path / "cache"))
    config = OpenCostConfig.model_validate(
        {
            "type": "opencost",
            "aggregate": ["namespace", "label:team"],
            "history": "7d",
            "settlement_lag": "1d",
            "url": "http://127.0.0.1:9",
        }
    )
    with running() as api:
        api.add("GET", ALLOCATION, two_days(), Reply({"code": 200, "data": [{}]}))
        config = config.model_copy(update={"url": api.url})
        OpenCostProvider("k8s", config, context).fetch(NOW)
        data = OpenCostProvider("k8s", config, context).fetch(NOW)
        windows = [call.query["window"][0] for call in api.calls("GET", ALLOCATION)]
    assert windows[1].startswith("2026-11-19T00:00:00Z,")
    assert total(data.frame) == 4.25 + 1.5 + 2.0


@pytest.mark.parametrize("status", [429, 500, 502])
def test_throttling_and_server_errors_are_retried(tmp_path: Path, status: int) -> None:
    with running() as api:
        api.add("GET", ALLOCATION, Reply({"code": status, "message": "busy"}, status), two_days())
        data = make_provider(api.url, tmp_path).fetch(NOW)
        assert len(api.calls("GET", ALLOCATION)) == 2
    assert total(data.frame) == 14.5


def test_a_rejected_proxy_token_fails_at_once_without_showing_it(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(TOKEN)
    with running() as api:
        api.add("GET", ALLOCATION, Reply({"message": f"bad token {TOKEN}"}, 401))
        with pytest.raises(ProviderError) as raised:
            make_provider(api.url, tmp_path, token_file="token").fetch(NOW)
        sent = api.calls("GET", ALLOCATION)
    assert len(sent) == 1
    assert sent[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert "provider k8s" in str(raised.value)
    assert TOKEN not in str(raised.value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"code": 500, "status": "error", "message": "Prometheus is unreachable"},
            "code 500: Prometheus is unreachable",
        ),
        ({"code": 200, "data": {"payments": {}}}, "no data list"),
        ({"code": 200, "data": ["payments"]}, r"data\[0\] is not an object"),
        ("<html>502 Bad Gateway</html>", "not JSON"),
    ],
    ids=["error code", "data not a list", "set not an object", "html"],
)
def test_a_malformed_answer_is_a_clear_error(tmp_path: Path, body: Any, expected: str) -> None:
    with running() as api:
        api.add("GET", ALLOCATION, Reply(body))
        with pytest.raises(ProviderError, match=expected):
            make_provider(api.url, tmp_path).fetch(NOW)


@pytest.mark.parametrize(
    ("aggregate", "expected"),
    [
        ("[namespace, cpu]", "unknown aggregation 'cpu'"),
        ("['label:']", "name one label"),
        ("['label:app;env']", "name one label"),
        ("[deployment, controller]", "same dimension"),
    ],
    ids=["unknown", "empty label", "two labels", "same dimension"],
)
def test_bad_aggregations_are_named_in_the_config_error(aggregate: str, expected: str) -> None:
    text = f"providers:\n  k8s: {{type: opencost, aggregate: {aggregate}}}\n"
    with pytest.raises(ConfigError, match=expected) as raised:
        parse_config(text)
    assert "providers.k8s.aggregate" in str(raised.value)
