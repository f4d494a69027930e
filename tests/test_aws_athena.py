"""The aws_athena provider against botocore's Stubber, which checks every request against the
Athena service model; answers are shaped as the Athena API reference documents them
(StartQueryExecution, GetQueryExecution with Status and Statistics, paged GetQueryResults whose
first row repeats the column names)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.stub import ANY, Stubber

from budget_exporter.config.loader import parse_config
from budget_exporter.model.errors import ConfigError, ProviderError
from budget_exporter.providers.base import ProviderContext
from budget_exporter.providers.cost.aws_athena import (
    MIN_BILLED_BYTES,
    AwsAthenaConfig,
    AwsAthenaProvider,
    build_query,
)

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
QUERY_ID = "c4c2a3b1-5e4e-4b52-9a0c-2f6d3c1e9f00"
SESSION = botocore.session.get_session()
COLUMNS = [
    "usage_day",
    "period_start",
    "period_end",
    "line_type",
    "currency",
    "billing_account",
    "sub_account",
    "service",
    "service_code",
    "region",
    "tag_0",
    "cost",
]


def make_provider(folder: Path, **settings: Any) -> tuple[AwsAthenaProvider, Stubber]:
    config = AwsAthenaConfig.model_validate(
        {
            "type": "aws_athena",
            "database": "cur",
            "table": "data_exports",
            "tags": ["team"],
            "history": "30d",
            "poll_interval": "0s",
            **settings,
        }
    )
    context = ProviderContext("UTC", "USD", str(folder), cache_dir=str(folder / "cache"))
    provider = AwsAthenaProvider("athena", config, context)
    client = SESSION.create_client(
        "athena", region_name="us-east-1", aws_access_key_id="AKIA", aws_secret_access_key="s"
    )
    stubber = Stubber(client)
    stubber.activate()
    provider.client_factory = lambda: client  # type: ignore[method-assign]
    return provider, stubber


def cells(values: list[str | None]) -> dict:
    return {"Data": [{} if value is None else {"VarCharValue": value} for value in values]}


def results_page(rows: list[list[str | None]], first: bool, token: str | None = None) -> dict:
    page: dict[str, Any] = {
        "ResultSet": {
            "Rows": ([cells(list(COLUMNS))] if first else []) + [cells(row) for row in rows],
            "ResultSetMetadata": {
                "ColumnInfo": [{"Name": name, "Type": "varchar"} for name in COLUMNS]
            },
        },
        "UpdateCount": 0,
    }
    if token:
        page["NextToken"] = token
    return page


def execution(state: str, scanned: int = 0, reason: str | None = None) -> dict:
    status: dict[str, Any] = {"State": state}
    if reason:
        status["StateChangeReason"] = reason
        status["AthenaError"] = {"ErrorCategory": 2, "ErrorType": 1301, "Retryable": False}
    return {
        "QueryExecution": {
            "QueryExecutionId": QUERY_ID,
            "Status": status,
            "Statistics": {"DataScannedInBytes": scanned, "EngineExecutionTimeInMillis": 812},
        }
    }


def expect_query(stubber: Stubber, parameters: list[str] | Any = ANY) -> None:
    stubber.add_response(
        "start_query_execution",
        {"QueryExecutionId": QUERY_ID},
        {
            "QueryString": ANY,
            "QueryExecutionContext": {"Catalog": "AwsDataCatalog", "Database": "cur"},
            "WorkGroup": "primary",
            "ExecutionParameters": parameters,
        },
    )


USAGE = "2026-03-19", None, None, "Usage", "USD", "012345678901", "111122223333"
EC2 = "Amazon Elastic Compute Cloud", "AmazonEC2", "us-east-1"
ROWS = [
    [*USAGE, *EC2, "web", "24.5"],
    [*USAGE, *EC2, None, "1.25"],
    # A month-long reservation fee keeps its charge period.
    ["2026-03-01", "2026-03-01T00:00:00", "2026-04-01T00:00:00", "RIFee", "USD",
     "012345678901", "111122223333", *EC2, None, "310"],
    ["2026-03-01", "2026-03-01T00:00:00", "2026-04-01T00:00:00", "Tax", "USD",
     "012345678901", "111122223333", *EC2, None, "12.4"],
]  # fmt: skip


def test_a_first_read_queries_the_whole_history_and_pages_through_the_results(tmp_path):
    provider, stubber = make_provider(tmp_path)
    expect_query(
        stubber,
        ["'2026-02'", "TIMESTAMP '2026-02-18 00:00:00'", "TIMESTAMP '2026-03-20 12:00:00'"],
    )
    stubber.add_response("get_query_execution", execution("QUEUED"), {"QueryExecutionId": QUERY_ID})
    stubber.add_response(
        "get_query_execution", execution("RUNNING"), {"QueryExecutionId": QUERY_ID}
    )
    stubber.add_response(
        "get_query_execution", execution("SUCCEEDED", 52_428_800), {"QueryExecutionId": QUERY_ID}
    )
    stubber.add_response(
        "get_query_results",
        results_page(ROWS[:2], first=True, token="page-2"),
        {"QueryExecutionId": QUERY_ID, "MaxResults": 1000},
    )
    stubber.add_response(
        "get_query_results",
        results_page(ROWS[2:], first=False),
        {"QueryExecutionId": QUERY_ID, "MaxResults": 1000, "NextToken": "page-2"},
    )
    data = provider.fetch(NOW)
    stubber.assert_no_pending_responses()
    frame = data.frame
    assert frame["cost"].sum() == pytest.approx(24.5 + 1.25 + 310 + 12.4)
    by_category = frame.groupby("charge_category", observed=True)["cost"].sum().to_dict()
    assert by_category == pytest.approx({"usage": 25.75, "purchase": 310.0, "tax": 12.4})
    fee = frame[frame["charge_category"] == "purchase"].iloc[0]
    assert (fee["start"], fee["end"]) == (
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 4, 1, tzinfo=UTC),
    )
    usage = frame[frame["charge_category"] == "usage"]
    assert set(usage["start"]) == {datetime(2026, 3, 19, tzinfo=UTC)}
    assert set(usage["end"]) == {datetime(2026, 3, 20, tzinfo=UTC)}
    assert set(usage["tags.team"]) == {"web", ""}
    assert set(frame["ServiceName"]) == {"Amazon Elastic Compute Cloud"}
    samples = {(m.name, m.labels): m.value for m in provider.metrics()}
    assert samples[("budget_exporter_provider_query_scanned_bytes_total", ())] == 52_428_800
    assert samples[("budget_exporter_provider_api_cost_usd_total", ())] == pytest.approx(
        round(52_428_800 * 5 / 1e12, 4)
    )
    assert (
        samples[
            ("budget_exporter_provider_api_requests_total", (("operation", "GetQueryResults"),))
        ]
        == 2
    )


def test_later_reads_query_only_the_days_that_can_still_change_and_keep_the_rest(tmp_path):
    provider, stubber = make_provider(tmp_path, settlement_lag="2d")
    expect_query(stubber)
    stubber.add_response(
        "get_query_execution", execution("SUCCEEDED", 1000), {"QueryExecutionId": QUERY_ID}
    )
    stubber.add_response(
        "get_query_results",
        results_page(ROWS, first=True),
        {"QueryExecutionId": QUERY_ID, "MaxResults": 1000},
    )
    provider.fetch(NOW)
    # A restart: the rows and the scan count come back from the cache folder.
    again, stubber = make_provider(tmp_path, settlement_lag="2d")
    later = datetime(2026, 3, 21, 12, tzinfo=UTC)
    expect_query(
        stubber,
        ["'2026-03'", "TIMESTAMP '2026-03-19 00:00:00'", "TIMESTAMP '2026-03-21 12:00:00'"],
    )
    stubber.add_response(
        "get_query_execution", execution("SUCCEEDED", 1000), {"QueryExecutionId": QUERY_ID}
    )
    stubber.add_response(
        "get_query_results",
        results_page([[*USAGE, *EC2, "web", "30"]], first=True),
        {"QueryExecutionId": QUERY_ID, "MaxResults": 1000},
    )
    data = again.fetch(later)
    stubber.assert_no_pending_responses()
    # The fee and tax of March 1st are kept; the 19th is read again (30 replaces 25.75).
    assert data.frame["cost"].sum() == pytest.approx(30 + 310 + 12.4)
    scanned = {m.name: m.value for m in again.metrics() if not m.labels}
    # Each query is billed at least 10 MB.
    assert scanned["budget_exporter_provider_query_scanned_bytes_total"] == 2 * MIN_BILLED_BYTES


@pytest.mark.parametrize("state", ["FAILED", "CANCELLED"])
def test_a_failed_or_cancelled_query_names_the_query_and_athenas_reason(tmp_path, state):
    provider, stubber = make_provider(tmp_path)
    expect_query(stubber)
    reason = "COLUMN_NOT_FOUND: line 9:3: Column 'product_region_code' cannot be resolved"
    stubber.add_response(
        "get_query_execution", execution(state, 0, reason), {"QueryExecutionId": QUERY_ID}
    )
    with pytest.raises(ProviderError) as raised:
        provider.fetch(NOW)
    message = str(raised.value)
    assert f"query {QUERY_ID} {state.lower()} (user error)" in message
    assert "product_region_code" in message


def test_throttling_and_denied_access_say_what_to_do(tmp_path):
    provider, stubber = make_provider(tmp_path)
    stubber.add_client_error(
        "start_query_execution",
        service_error_code="TooManyRequestsException",
        service_message="Rate exceeded",
        http_status_code=400,
    )
    with pytest.raises(ProviderError, match="StartQueryExecution failed with TooManyRequests"):
        provider.fetch(NOW)
    provider, stubber = make_provider(tmp_path / "denied")
    stubber.add_client_error(
        "start_query_execution",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: athena:StartQueryExecution",
        http_status_code=400,
    )
    with pytest.raises(ProviderError, match="grant athena:StartQueryExecution"):
        provider.fetch(NOW)


def test_a_query_past_its_timeout_is_stopped(tmp_path):
    provider, stubber = make_provider(tmp_path, timeout="0s")
    expect_query(stubber)
    stubber.add_response(
        "get_query_execution", execution("RUNNING"), {"QueryExecutionId": QUERY_ID}
    )
    stubber.add_response("stop_query_execution", {}, {"QueryExecutionId": QUERY_ID})
    with pytest.raises(ProviderError, match="ran longer than 0s: stopped"):
        provider.fetch(NOW)
    stubber.assert_no_pending_responses()


def test_the_monthly_scan_budget_is_never_exceeded(tmp_path):
    provider, stubber = make_provider(tmp_path, monthly_scan_budget_bytes=MIN_BILLED_BYTES)
    expect_query(stubber)
    stubber.add_response(
        "get_query_execution", execution("SUCCEEDED", 5), {"QueryExecutionId": QUERY_ID}
    )
    stubber.add_response(
        "get_query_results",
        results_page(ROWS, first=True),
        {"QueryExecutionId": QUERY_ID, "MaxResults": 1000},
    )
    provider.fetch(NOW)
    with pytest.raises(ProviderError, match=r"monthly scan budget .* is used up until 2026-04-01"):
        provider.fetch(NOW)  # no stubbed answer: a query would fail the Stubber


def test_malformed_answers_are_named(tmp_path):
    provider, stubber = make_provider(tmp_path)
    expect_query(stubber)
    stubber.add_response(
        "get_query_execution", execution("SUCCEEDED", 5), {"QueryExecutionId": QUERY_ID}
    )
    stubber.add_response(
        "get_query_results",
        results_page([["not-a-day", None, None, "Usage", "USD", "1", "2", *EC2, None, "x"]], True),
        {"QueryExecutionId": QUERY_ID, "MaxResults": 1000},
    )
    with pytest.raises(ProviderError, match="rows without a day, cost or currency"):
        provider.fetch(NOW)


@pytest.mark.parametrize(
    ("layout", "cost", "expected"),
    [
        ("cur2", "unblended", ["billing_period >= ?", "element_at(resource_tags, 'user_team')"]),
        ("legacy", "amortized", ["CAST(year AS integer) * 100", '"resource_tags_user_team"',
                                 "WHEN 'RIFee' THEN reservation_unused_amortized_upfront_fee"]),
    ],
)  # fmt: skip
def test_the_query_follows_the_layout_and_the_cost_basis(layout, cost, expected):
    settings = AwsAthenaConfig.model_validate(
        {"type": "aws_athena", "database": "cur", "table": "t", "layout": layout, "cost": cost,
         "tags": ["team"]}
    )  # fmt: skip
    query = build_query(settings)
    for part in expected:
        assert part in query
    assert query.count("?") == 3  # every value comes in as an execution parameter


@pytest.mark.parametrize("table", ["t; DROP TABLE x", 'x"y', "data-exports"])
def test_names_quoted_into_the_sql_are_strict(table):
    with pytest.raises(ConfigError, match=r"providers\.athena\.table: .* is not a Glue name"):
        parse_config(
            "providers:\n"
            f"  athena: {{type: aws_athena, database: cur, table: '{table}'}}\n"
            "budgets: []\n"
        )
