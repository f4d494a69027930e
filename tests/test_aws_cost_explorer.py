"""The aws_cost_explorer provider against botocore's Stubber, which checks every request and
response against the real Cost Explorer service model (but not enum values: asserted here)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from budget_exporter.config.loader import parse_config
from budget_exporter.model.errors import ConfigError, ProviderError
from budget_exporter.providers.base import ProviderContext
from budget_exporter.providers.cost.aws_ce_config import AwsCostExplorerConfig
from budget_exporter.providers.cost.aws_cost_explorer import AwsCostExplorerProvider

NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)
KEY_ID = "AKIAEXAMPLEKEYID0000"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GROUPS = [{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "RECORD_TYPE"}]
EC2 = "Amazon Elastic Compute Cloud - Compute"
S3 = "Amazon Simple Storage Service"


# One session for all tests: it loads the service model once.
SESSION = botocore.session.get_session()


def make_client() -> Any:
    return SESSION.create_client(
        "ce", region_name="us-east-1", aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET
    )


def make_provider(folder: Path, **settings: Any) -> tuple[AwsCostExplorerProvider, Stubber]:
    """A provider whose cache lives in ``folder``, talking to a stubbed client."""
    config = AwsCostExplorerConfig.model_validate(
        {"type": "aws_cost_explorer", "history": "3d", "settlement_lag": "1d", **settings}
    )
    context = ProviderContext("UTC", "USD", str(folder), cache_dir=str(folder / "cache"))
    provider = AwsCostExplorerProvider("aws", config, context)
    client = make_client()
    stubber = Stubber(client)
    stubber.activate()
    provider.client_factory = lambda: client  # type: ignore[method-assign]
    return provider, stubber


def result(day: str, groups: list[tuple[list[str], str]], estimated: bool = False) -> dict:
    """One ResultsByTime entry as Cost Explorer sends it for a grouped daily query."""
    end = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    return {
        "TimePeriod": {"Start": day, "End": end},
        "Total": {},
        "Groups": [
            {"Keys": keys, "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}
            for keys, amount in groups
        ],
        "Estimated": estimated,
    }


def response(*results: dict, token: str | None = None) -> dict:
    answer: dict[str, Any] = {
        "GroupDefinitions": GROUPS,
        "ResultsByTime": list(results),
        "DimensionValueAttributes": [],
    }
    if token:
        answer["NextPageToken"] = token
    return answer


def request(start: str, end: str = "2026-03-16", token: str | None = None, **extra: Any) -> dict:
    params: dict[str, Any] = {
        "TimePeriod": {"Start": start, "End": end},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": GROUPS,
        **extra,
    }
    if token:
        params["NextPageToken"] = token
    return params


THREE_DAYS = response(
    result("2026-03-13", [([EC2, "Usage"], "10.25"), ([S3, "Usage"], "1.5")]),
    result("2026-03-14", [([EC2, "Usage"], "11"), ([EC2, "Credit"], "-4")], estimated=True),
    result("2026-03-15", [([EC2, "Usage"], "3.125")], estimated=True),
)


def metric(provider: AwsCostExplorerProvider, name: str, **labels: str) -> float | None:
    for sample in provider.metrics():
        if sample.name == name and dict(sample.labels) == labels:
            return sample.value
    return None


def test_daily_costs_become_one_day_rows_with_amounts_parsed_from_strings(tmp_path):
    provider, stubber = make_provider(tmp_path)
    stubber.add_response("get_cost_and_usage", THREE_DAYS, request("2026-03-13"))
    data = provider.fetch(NOW)
    stubber.assert_no_pending_responses()
    frame = data.frame
    rows = {
        (row.start.date().isoformat(), row.ServiceName, row.charge_category): row.cost
        for row in frame.itertuples()
    }
    assert rows == {
        ("2026-03-13", EC2, "usage"): 10.25,
        ("2026-03-13", S3, "usage"): 1.5,
        ("2026-03-14", EC2, "usage"): 11.0,
        ("2026-03-14", EC2, "credit"): -4.0,
        ("2026-03-15", EC2, "usage"): 3.125,
    }
    assert set(frame["currency"]) == {"USD"}
    assert set(frame["ProviderName"]) == {"AWS"}
    assert ((frame["end"] - frame["start"]) == timedelta(days=1)).all()
    assert data.data_end == datetime(2026, 3, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    ("record_type", "category"),
    [
        ("Usage", "usage"),
        ("Credit", "credit"),
        ("Refund", "refund"),
        ("Tax", "tax"),
        ("Recurring reservation fee", "purchase"),
        ("Savings Plan Upfront Fee", "purchase"),
        ("Support fee", "purchase"),
        ("Savings Plan Negation", "usage"),
        ("Enterprise Discount Program Discount", "usage"),
    ],
)
def test_each_record_type_gets_its_charge_category(tmp_path, record_type, category):
    provider, stubber = make_provider(tmp_path, history="1d", settlement_lag="0s")
    answer = response(result("2026-03-15", [([EC2, record_type], "-2.5")]))
    stubber.add_response("get_cost_and_usage", answer, request("2026-03-15"))
    frame = provider.fetch(NOW).frame
    assert list(frame["charge_category"]) == [category]
    assert list(frame["x_RecordType"]) == [record_type]
    assert list(frame["cost"]) == [-2.5]


def test_tag_keys_lose_their_key_prefix_and_untagged_costs_get_an_empty_value(tmp_path):
    provider, stubber = make_provider(
        tmp_path, history="1d", settlement_lag="0s", group_by=["tag:team", "LINKED_ACCOUNT"]
    )
    groups = [{"Type": "TAG", "Key": "team"}, {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}]
    answer = response(
        result(
            "2026-03-15", [(["team$web", "111122223333"], "5"), (["team$", "111122223333"], "2")]
        )
    )
    answer["GroupDefinitions"] = groups
    stubber.add_response("get_cost_and_usage", answer, {**request("2026-03-15"), "GroupBy": groups})
    frame = provider.fetch(NOW).frame
    assert sorted(zip(frame["tags.team"], frame["SubAccountId"], frame["cost"], strict=True)) == [
        ("", "111122223333", 2.0),
        ("web", "111122223333", 5.0),
    ]
    assert set(frame["charge_category"]) == {"usage"}


def test_every_page_is_fetched_and_a_day_split_over_pages_is_merged(tmp_path):
    provider, stubber = make_provider(tmp_path)
    first = response(result("2026-03-13", [([EC2, "Usage"], "1")]), token="page-2")
    second = response(
        result("2026-03-13", [([S3, "Usage"], "2")]),
        result("2026-03-14", [([S3, "Usage"], "3")], estimated=True),
        result("2026-03-15", [], estimated=True),
    )
    stubber.add_response("get_cost_and_usage", first, request("2026-03-13"))
    stubber.add_response("get_cost_and_usage", second, request("2026-03-13", token="page-2"))
    frame = provider.fetch(NOW).frame
    stubber.assert_no_pending_responses()
    day = frame[frame["start"] == datetime(2026, 3, 13, tzinfo=UTC)]
    assert sorted(zip(day["ServiceName"], day["cost"], strict=True)) == [(EC2, 1.0), (S3, 2.0)]
    name = "budget_exporter_provider_api_requests_total"
    assert metric(provider, name, operation="GetCostAndUsage") == 2
    assert metric(provider, "budget_exporter_provider_api_cost_usd_total") == 0.02
    assert metric(provider, "budget_exporter_provider_api_requests_month") == 2
    assert metric(provider, "budget_exporter_provider_api_requests_month_limit") == 500


def test_the_first_estimated_day_marks_where_settled_data_ends(tmp_path):
    provider, stubber = make_provider(tmp_path)
    stubber.add_response("get_cost_and_usage", THREE_DAYS, request("2026-03-13"))
    assert provider.fetch(NOW).settled_through == datetime(2026, 3, 14, tzinfo=UTC)


@pytest.mark.parametrize(
    ("estimated", "restart", "refetch_from"),
    [
        # Final days older than the settlement lag come from the cache.
        ((False, False, False), False, "2026-03-14"),
        ((False, True, True), False, "2026-03-14"),
        # An estimated day can still change, however old.
        ((True, False, False), False, "2026-03-13"),
        # The cache on disk survives a restart.
        ((False, True, True), True, "2026-03-14"),
        ((True, True, True), True, "2026-03-13"),
    ],
)
def test_only_days_that_can_still_change_are_fetched_again(
    tmp_path, estimated, restart, refetch_from
):
    provider, stubber = make_provider(tmp_path)
    days = ("2026-03-13", "2026-03-14", "2026-03-15")
    first = response(
        *(
            result(day, [([EC2, "Usage"], "1")], flag)
            for day, flag in zip(days, estimated, strict=True)
        )
    )
    stubber.add_response("get_cost_and_usage", first, request("2026-03-13"))
    provider.fetch(NOW)
    if restart:
        provider, stubber = make_provider(tmp_path)
    later = NOW + timedelta(hours=5)
    again = response(
        *(result(day, [([EC2, "Usage"], "2")], True) for day in days if day >= refetch_from)
    )
    stubber.add_response("get_cost_and_usage", again, request(refetch_from))
    frame = provider.fetch(later).frame
    stubber.assert_no_pending_responses()
    costs = dict(zip(frame["start"].dt.date.astype(str), frame["cost"], strict=True))
    assert costs == {day: (2.0 if day >= refetch_from else 1.0) for day in days}


def test_no_request_is_made_before_the_minimum_interval_even_after_a_restart(tmp_path):
    provider, stubber = make_provider(tmp_path, min_interval="6h")
    stubber.add_response("get_cost_and_usage", THREE_DAYS, request("2026-03-13"))
    first = provider.fetch(NOW)
    restarted, idle = make_provider(tmp_path, min_interval="6h")
    # Request counts are known after a restart before any round.
    assert metric(restarted, "budget_exporter_provider_api_requests_month") == 1
    # No response is queued: any call would make the Stubber raise.
    for provider_now in (provider, restarted):
        again = provider_now.fetch(NOW + timedelta(hours=5))
        assert again.frame.equals(first.frame)
        assert again.settled_through == first.settled_through
    idle.assert_no_pending_responses()
    assert metric(restarted, "budget_exporter_provider_api_requests_month") == 1


def test_a_changed_query_does_not_reuse_cached_days(tmp_path):
    provider, stubber = make_provider(tmp_path)
    stubber.add_response("get_cost_and_usage", THREE_DAYS, request("2026-03-13"))
    provider.fetch(NOW)
    provider, stubber = make_provider(tmp_path, metric="AmortizedCost")
    answer = response(result("2026-03-15", []))
    stubber.add_response(
        "get_cost_and_usage", answer, {**request("2026-03-13"), "Metrics": ["AmortizedCost"]}
    )
    provider.fetch(NOW + timedelta(hours=5))
    stubber.assert_no_pending_responses()


def test_the_monthly_request_budget_is_never_exceeded_and_resets_next_month(tmp_path):
    settings = {"monthly_request_budget": 2, "min_interval": "1h", "history": "30d"}
    provider, stubber = make_provider(tmp_path, **settings)
    stubber.add_response("get_cost_and_usage", THREE_DAYS, request("2026-02-14"))
    provider.fetch(NOW)
    # One request left: rounds are spread so it is spent once the rest of March is shorter
    # than the time since the last round.
    assert provider.fetch(NOW + timedelta(days=8)).data_end == datetime(2026, 3, 16, tzinfo=UTC)
    stubber.assert_no_pending_responses()
    later = response(result("2026-03-24", [([EC2, "Usage"], "1")], True))
    stubber.add_response("get_cost_and_usage", later, request("2026-02-23", "2026-03-25"))
    provider.fetch(NOW + timedelta(days=9))
    with pytest.raises(ProviderError, match=r"aws.*monthly request budget \(2\).*2026-04-01"):
        provider.fetch(NOW + timedelta(days=10))
    stubber.assert_no_pending_responses()
    assert metric(provider, "budget_exporter_provider_api_requests_month") == 2
    april = datetime(2026, 4, 20, tzinfo=UTC)
    answer = response(result("2026-04-20", [([EC2, "Usage"], "1")], True))
    stubber.add_response("get_cost_and_usage", answer, request("2026-03-22", "2026-04-21"))
    assert len(provider.fetch(april).frame) == 1
    assert metric(provider, "budget_exporter_provider_api_requests_month") == 1
    name = "budget_exporter_provider_api_requests_total"
    assert metric(provider, name, operation="GetCostAndUsage") == 3


def test_a_budget_running_out_mid_pagination_keeps_the_cached_days(tmp_path):
    settings = {"monthly_request_budget": 2, "min_interval": "1h", "history": "30d"}
    provider, stubber = make_provider(tmp_path, **settings)
    stubber.add_response("get_cost_and_usage", THREE_DAYS, request("2026-02-14"))
    before = provider.fetch(NOW).frame
    partial = response(result("2026-03-14", [([EC2, "Usage"], "99")]), token="more")
    stubber.add_response("get_cost_and_usage", partial, request("2026-02-24", "2026-03-26"))
    with pytest.raises(ProviderError, match="monthly_request_budget"):
        provider.fetch(NOW + timedelta(days=10))
    stubber.assert_no_pending_responses()
    restarted, _ = make_provider(tmp_path, **settings)
    with pytest.raises(ProviderError, match="used up"):
        restarted.fetch(NOW + timedelta(days=10, hours=1))
    assert (
        restarted._cached_days()
        and metric(restarted, "budget_exporter_provider_api_requests_month") == 2
    )
    cached = restarted._data(restarted._cached_days()).frame
    assert cached.equals(before)


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("AccessDeniedException", "grant ce:GetCostAndUsage"),
        ("UnrecognizedClientException", "rejected or have expired"),
        ("ExpiredTokenException", "rejected or have expired"),
        ("LimitExceededException", "raise min_interval"),
        ("DataUnavailableException", "enable Cost Explorer"),
        ("BillExpirationException", "shorten history"),
        ("ValidationException", "check filter, group_by and metric"),
    ],
)
def test_aws_errors_name_the_provider_and_what_to_fix_without_credentials(tmp_path, code, hint):
    provider, stubber = make_provider(tmp_path)
    stubber.add_client_error(
        "get_cost_and_usage",
        service_error_code=code,
        service_message="User: arn:aws:iam::111122223333:user/ci is not authorized",
        http_status_code=400,
    )
    with pytest.raises(ProviderError) as raised:
        provider.fetch(NOW)
    message = str(raised.value)
    assert message.startswith("provider aws: GetCostAndUsage failed with " + code)
    assert hint in message
    assert SECRET not in message and KEY_ID not in message


def test_a_failed_round_is_retried_after_a_backoff_not_at_every_refresh(tmp_path):
    provider, stubber = make_provider(tmp_path)
    stubber.add_client_error("get_cost_and_usage", service_error_code="AccessDeniedException")
    with pytest.raises(ProviderError, match="grant ce:GetCostAndUsage"):
        provider.fetch(NOW)
    with pytest.raises(ProviderError, match="backing off after 1 failed rounds"):
        provider.fetch(NOW + timedelta(minutes=2))
    stubber.add_response("get_cost_and_usage", THREE_DAYS, request("2026-03-13"))
    assert len(provider.fetch(NOW + timedelta(minutes=6)).frame) == 5
    stubber.assert_no_pending_responses()
    assert metric(provider, "budget_exporter_provider_api_requests_month") == 2


def test_missing_credentials_say_where_credentials_come_from(tmp_path, monkeypatch):
    for variable in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    config = AwsCostExplorerConfig.model_validate({"type": "aws_cost_explorer"})
    provider = AwsCostExplorerProvider("aws", config, ProviderContext("UTC", "USD", str(tmp_path)))
    with pytest.raises(ProviderError, match="provider aws: GetCostAndUsage: no usable AWS cred"):
        provider.fetch(NOW)
    assert metric(provider, "budget_exporter_provider_api_requests_month") == 1


def test_rows_with_unreadable_amounts_are_reported_and_the_others_kept(tmp_path):
    provider, stubber = make_provider(tmp_path, history="1d", settlement_lag="0s")
    answer = response(
        result(
            "2026-03-15", [([EC2, "Usage"], "4.5"), ([S3, "Usage"], "n/a"), ([S3, "Tax"], "NaN")]
        )
    )
    stubber.add_response("get_cost_and_usage", answer, request("2026-03-15"))
    data = provider.fetch(NOW)
    assert list(data.frame["cost"]) == [4.5]
    assert data.bad_rows.count == 2
    assert "'n/a' is not a number" in str(data.bad_rows.examples[0])
    assert str(data.bad_rows.examples[0]).startswith("GetCostAndUsage 2026-03-15..2026-03-15:1")


def test_aws_forecast_is_added_to_this_months_actual_days(tmp_path):
    provider, stubber = make_provider(tmp_path, forecast=True)
    stubber.add_response("get_cost_and_usage", THREE_DAYS, request("2026-03-13"))
    forecast = {
        "Total": {"Amount": "300.5", "Unit": "USD"},
        "ForecastResultsByTime": [
            {
                "TimePeriod": {"Start": "2026-03-15", "End": "2026-04-01"},
                "MeanValue": "300.5",
                "PredictionIntervalLowerBound": "250",
                "PredictionIntervalUpperBound": "350",
            }
        ],
    }
    expected = {
        "TimePeriod": {"Start": "2026-03-15", "End": "2026-04-01"},
        "Metric": "UNBLENDED_COST",
        "Granularity": "MONTHLY",
        "PredictionIntervalLevel": 80,
    }
    stubber.add_response("get_cost_forecast", forecast, expected)
    provider.fetch(NOW)
    stubber.assert_no_pending_responses()
    actual = 10.25 + 1.5 + 11 - 4  # March 13 and 14; today's partial day is forecast
    name = "budget_exporter_provider_forecast_spend"
    for bound, rest in (("mean", 300.5), ("lower", 250), ("upper", 350)):
        value = metric(provider, name, period="month", bound=bound, currency="USD")
        assert value == pytest.approx(actual + rest)
    assert metric(provider, "budget_exporter_provider_api_cost_usd_total") == 0.02
    # Within forecast_interval, the next round asks only for costs.
    stubber.add_response("get_cost_and_usage", THREE_DAYS, request("2026-03-14"))
    provider.fetch(NOW + timedelta(hours=5))
    stubber.assert_no_pending_responses()


def test_a_forecast_aws_cannot_make_leaves_the_costs_served(tmp_path):
    provider, stubber = make_provider(tmp_path, forecast=True)
    stubber.add_response("get_cost_and_usage", THREE_DAYS, request("2026-03-13"))
    stubber.add_client_error("get_cost_forecast", service_error_code="DataUnavailableException")
    assert len(provider.fetch(NOW).frame) == 5
    assert (
        metric(
            provider,
            "budget_exporter_provider_forecast_spend",
            period="month",
            bound="mean",
            currency="USD",
        )
        is None
    )


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"group_by": ["tag:team", "cost_category:Teams"], "metric": "NetAmortizedCost"},
        {"group_by": [], "split_record_types": False, "metric": "BlendedCost"},
        {
            "group_by": ["LINKED_ACCOUNT"],
            "filter": {"Dimensions": {"Key": "REGION", "Values": ["eu-west-1"]}},
        },
    ],
)
def test_requests_use_only_values_the_service_model_lists(tmp_path, settings):
    """The Stubber checks shapes but not enums; this checks the enums of every sent request."""
    provider, stubber = make_provider(tmp_path, forecast=True, **settings)
    client = provider.client_factory()
    service = client.meta.service_model
    sent: list[tuple[str, dict]] = []
    client.meta.events.register(
        "provide-client-params.cost-explorer",
        lambda params, model, **_: sent.append((model.name, dict(params))),
    )
    stubber.add_response("get_cost_and_usage", response(result("2026-03-15", [])))
    stubber.add_response("get_cost_forecast", {"ForecastResultsByTime": []})
    provider.fetch(NOW)
    names = [name for name, _ in sent]
    assert names == ["GetCostAndUsage", "GetCostForecast"]
    usage, forecast = sent[0][1], sent[1][1]
    assert usage["Granularity"] in service.shape_for("Granularity").enum
    for group in usage.get("GroupBy", []):
        assert group["Type"] in service.shape_for("GroupDefinitionType").enum
        if group["Type"] == "DIMENSION":
            assert group["Key"] in service.shape_for("Dimension").enum
    assert forecast["Metric"] in service.shape_for("Metric").enum
    assert forecast["Granularity"] in service.shape_for("Granularity").enum
    for dimension in [usage.get("Filter", {}).get("Dimensions", {})]:
        if dimension:
            assert dimension["Key"] in service.shape_for("Dimension").enum


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"group_by": ["SERVICE", "REGION", "AZ"]}, "at most 2"),
        ({"group_by": ["SERVICE_NAME"]}, "'SERVICE_NAME' cannot group costs"),
        ({"group_by": ["label:team"]}, "use DIMENSION, tag:KEY or cost_category:NAME"),
        ({"group_by": ["SERVICE", "SERVICE"]}, "listed twice"),
        ({"metric": "UsageQuantity"}, "metric"),
        ({"filter": {"Dimension": {"Key": "SERVICE"}}}, "one Cost Explorer Expression"),
        ({"history": "20m"}, "between 1d"),
        ({"monthly_request_budget": 0}, "monthly_request_budget"),
    ],
)
def test_config_mistakes_are_reported_with_their_key(settings, problem):
    provider = {"type": "aws_cost_explorer", **settings}
    text = json.dumps({"providers": {"aws": provider}})
    with pytest.raises(ConfigError) as raised:
        parse_config(text)
    assert problem in str(raised.value)
    assert "providers.aws." in str(raised.value)


def test_group_by_shorthands_expand_to_cost_explorer_group_definitions():
    config = AwsCostExplorerConfig.model_validate(
        {"type": "aws_cost_explorer", "group_by": ["tag:team", "cost_category:Teams"]}
    )
    assert [(g.type, g.key) for g in config.group_by] == [
        ("TAG", "team"),
        ("COST_CATEGORY", "Teams"),
    ]


def test_an_unreadable_request_ledger_stops_the_provider_rather_than_forget_its_count(tmp_path):
    ledger = tmp_path / "cache" / "aws_cost_explorer" / "aws.requests.json"
    ledger.parent.mkdir(parents=True)
    ledger.write_text("{not json")
    provider, _ = make_provider(tmp_path)
    with pytest.raises(ProviderError, match=r"provider aws: request ledger .* is unreadable"):
        provider.fetch(NOW)
