"""gcp_bigquery against a local server answering the BigQuery REST calls the client makes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from budget_exporter.config.loader import parse_config
from budget_exporter.model.errors import ConfigError, ProviderError
from budget_exporter.providers.base import ProviderContext
from budget_exporter.providers.cost.gcp_bigquery import GcpBigQueryConfig, GcpBigQueryProvider
from fakeapi import Recorded, Reply, running

pytest.importorskip("google.cloud.bigquery")

PROJECT = "billing-admin"
TABLE = "billing-admin.billing_export.gcp_billing_export_v1_0A1B2C_3D4E5F_6A7B8C"
QUERIES = f"/bigquery/v2/projects/{PROJECT}/queries"
JOB_ID = "job_Xq3PzT0s9k"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
PLANTED = "ya29.planted-secret-access-token"

# Shaped like jobs.query / jobs.getQueryResults responses: values as strings in row "f" cells.
SCHEMA = {
    "fields": [
        {"name": "usage_day", "type": "DATE", "mode": "NULLABLE"},
        {"name": "billing_account_id", "type": "STRING", "mode": "NULLABLE"},
        {"name": "project_id", "type": "STRING", "mode": "NULLABLE"},
        {"name": "project_name", "type": "STRING", "mode": "NULLABLE"},
        {"name": "service", "type": "STRING", "mode": "NULLABLE"},
        {"name": "invoice_month", "type": "STRING", "mode": "NULLABLE"},
        {"name": "cost_type", "type": "STRING", "mode": "NULLABLE"},
        {"name": "currency", "type": "STRING", "mode": "NULLABLE"},
        {"name": "label_0", "type": "STRING", "mode": "NULLABLE"},
        {"name": "cost", "type": "FLOAT", "mode": "NULLABLE"},
        {"name": "credits", "type": "FLOAT", "mode": "NULLABLE"},
    ]
}
ACCOUNT = "01A2B3-C4D5E6-F7A8B9"


def row(
    day: str,
    project: str | None,
    service: str,
    cost_type: str,
    team: str | None,
    cost: str,
    credits: str,
    currency: str = "USD",
) -> dict[str, Any]:
    """One result row in the REST representation."""
    values = [
        day,
        ACCOUNT,
        project,
        project,
        service,
        day[:4] + day[5:7],
        cost_type,
        currency,
        team,
        cost,
        credits,
    ]
    return {"f": [{"v": value} for value in values]}


PAGE_1 = [
    row("2026-11-18", "web-prod", "Compute Engine", "regular", "web", "120.5", "-20.5"),
    row("2026-11-18", "web-prod", "Cloud Storage", "regular", None, "10.25", "0"),
]
PAGE_2 = [
    row("2026-11-19", "data-lake", "BigQuery", "regular", "data", "40", "-4"),
    row("2026-11-19", None, "Invoice", "tax", None, "8.5", "0"),
    row("2026-11-19", "web-prod", "Compute Engine", "adjustment", "web", "-3", "0"),
]


def job_reference() -> dict[str, str]:
    return {"projectId": PROJECT, "jobId": JOB_ID, "location": "US"}


def first_page(rows: list[dict[str, Any]], token: str | None) -> Reply:
    body: dict[str, Any] = {
        "kind": "bigquery#queryResponse",
        "schema": SCHEMA,
        "jobReference": job_reference(),
        "totalRows": str(len(PAGE_1) + len(PAGE_2)),
        "rows": rows,
        "totalBytesProcessed": "1048576",
        "jobComplete": True,
        "cacheHit": False,
    }
    if token:
        body["pageToken"] = token
    return Reply(body)


def job_resource() -> Reply:
    return Reply(
        {
            "kind": "bigquery#job",
            "id": f"{PROJECT}:US.{JOB_ID}",
            "jobReference": job_reference(),
            "configuration": {
                "jobType": "QUERY",
                "query": {
                    "query": "WITH line_items AS (...)",
                    "destinationTable": {
                        "projectId": PROJECT,
                        "datasetId": "_a1b2c3",
                        "tableId": "anon_d4e5f6",
                    },
                    "useLegacySql": False,
                },
            },
            "status": {"state": "DONE"},
            "statistics": {"creationTime": "1763640000000", "query": {"totalBytesProcessed": "1"}},
        }
    )


def next_page(request: Recorded) -> Reply:
    assert request.query.get("pageToken") == ["page-2"]
    return Reply(
        {
            "kind": "bigquery#getQueryResultsResponse",
            "schema": SCHEMA,
            "jobReference": job_reference(),
            "totalRows": str(len(PAGE_1) + len(PAGE_2)),
            "rows": PAGE_2,
            "jobComplete": True,
        }
    )


def script_two_pages(api: Any) -> None:
    api.add("POST", QUERIES, first_page(PAGE_1, "page-2"))
    api.add("GET", f"/bigquery/v2/projects/{PROJECT}/jobs/{JOB_ID}", job_resource())
    api.add("GET", f"{QUERIES}/{JOB_ID}", next_page)


def make_provider(api_url: str, tmp_path: Path, **overrides: Any) -> GcpBigQueryProvider:
    settings = {
        "type": "gcp_bigquery",
        "table": TABLE,
        "labels": ["team"],
        "anonymous": True,
        "api_endpoint": api_url,
        "history": "30d",
        **overrides,
    }
    config = GcpBigQueryConfig.model_validate(settings)
    return GcpBigQueryProvider("gcp", config, ProviderContext("UTC", "USD", str(tmp_path)))


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(GcpBigQueryProvider, "retry_initial_delay", 0.01)


def total(frame: Any, **match: str) -> float:
    selected = frame
    for column, value in match.items():
        selected = selected[selected[column].astype(str) == value]
    return round(float(selected["cost"].sum()), 6)


def test_a_two_page_answer_becomes_daily_costs_net_of_credits(tmp_path: Path) -> None:
    with running() as api:
        script_two_pages(api)
        data = make_provider(api.url, tmp_path).fetch(NOW)
        assert api.unanswered() == []
    frame = data.frame
    assert total(frame) == 120.5 - 20.5 + 10.25 + 40 - 4 + 8.5 - 3
    assert total(frame, ServiceName="Compute Engine", charge_category="usage") == 120.5
    assert total(frame, ServiceName="Compute Engine", charge_category="credit") == -20.5
    assert total(frame, charge_category="tax") == 8.5
    assert total(frame, charge_category="refund") == -3
    assert total(frame, **{"tags.team": "data"}) == 36
    assert (
        total(frame, SubAccountId="web-prod", x_InvoiceMonth="202611") == 120.5 - 20.5 + 10.25 - 3
    )
    assert set(frame["ProviderName"].astype(str)) == {"Google Cloud"}
    assert set(frame["BillingAccountId"].astype(str)) == {ACCOUNT}
    starts = sorted({ts.isoformat() for ts in frame["start"]})
    assert starts == ["2026-11-18T00:00:00+00:00", "2026-11-19T00:00:00+00:00"]


def test_values_travel_as_named_query_parameters_not_in_the_sql_text(tmp_path: Path) -> None:
    with running() as api:
        script_two_pages(api)
        make_provider(api.url, tmp_path, labels=["team'; DROP TABLE x; --"]).fetch(NOW)
        sent = api.calls("POST", QUERIES)[0].json
    assert sent["parameterMode"] == "NAMED"
    assert sent["useLegacySql"] is False
    parameters = {
        p["name"]: (p["parameterType"]["type"], p["parameterValue"]["value"])
        for p in sent["queryParameters"]
    }
    assert parameters["label_0"] == ("STRING", "team'; DROP TABLE x; --")
    assert parameters["timezone"] == ("STRING", "UTC")
    assert parameters["usage_start"] == ("TIMESTAMP", "2026-10-21 00:00:00+00:00")
    # Late rows land in newer partitions, so partitions are read from a day before the window.
    assert parameters["partition_start"] == ("DATE", "2026-10-20")
    assert "DROP TABLE" not in sent["query"]
    assert "UNNEST(credits)" in sent["query"]
    assert "_PARTITIONTIME" in sent["query"]


def test_a_second_refresh_asks_only_for_the_unsettled_days_and_replaces_them(
    tmp_path: Path,
) -> None:
    with running() as api:
        provider = make_provider(api.url, tmp_path, settlement_lag="2d")
        script_two_pages(api)
        provider.fetch(NOW)
        # Two days are unsettled; the answer has only a changed 2026-11-19.
        api.add(
            "POST",
            QUERIES,
            first_page(
                [row("2026-11-19", "data-lake", "BigQuery", "regular", "data", "50", "0")], None
            ),
        )
        data = provider.fetch(NOW)
        sent = api.calls("POST", QUERIES)[1].json
    start = next(p for p in sent["queryParameters"] if p["name"] == "usage_start")
    assert start["parameterValue"]["value"] == "2026-11-18 00:00:00+00:00"
    assert total(data.frame) == 50


def test_a_second_refresh_keeps_days_before_the_reread_window(tmp_path: Path) -> None:
    with running() as api:
        provider = make_provider(api.url, tmp_path, settlement_lag="1d")
        script_two_pages(api)
        provider.fetch(NOW)
        api.add("POST", QUERIES, first_page([], None))
        data = provider.fetch(NOW)
    assert total(data.frame) == 120.5 - 20.5 + 10.25


@pytest.mark.parametrize(
    ("status", "headers"),
    [(429, {"Retry-After": "0"}), (500, {}), (503, {})],
    ids=["throttling", "internal error", "unavailable"],
)
def test_a_throttled_or_failed_call_is_retried_until_it_succeeds(
    tmp_path: Path, status: int, headers: dict[str, str]
) -> None:
    error = {"error": {"code": status, "message": "try again", "errors": [], "status": "X"}}
    with running() as api:
        api.add("POST", QUERIES, Reply(error, status, headers))
        script_two_pages(api)
        data = make_provider(api.url, tmp_path).fetch(NOW)
        assert len(api.calls("POST", QUERIES)) == 2
    assert total(data.frame) > 0


def test_rejected_credentials_fail_at_once_with_a_hint_and_without_the_token(
    tmp_path: Path,
) -> None:
    key_file = service_account_file(tmp_path)
    unauthorized = {
        "error": {
            "code": 401,
            "message": "Request had invalid authentication credentials.",
            "errors": [{"reason": "authError", "message": "Invalid Credentials"}],
            "status": "UNAUTHENTICATED",
        }
    }
    with running() as api:
        write_key(key_file, f"{api.url}/token")
        api.add(
            "POST",
            "/token",
            Reply({"access_token": PLANTED, "expires_in": 3599, "token_type": "Bearer"}),
        )
        api.add("POST", QUERIES, Reply(unauthorized, 401))
        provider = make_provider(api.url, tmp_path, anonymous=False, credentials_file=key_file.name)
        with pytest.raises(ProviderError) as raised:
            provider.fetch(NOW)
        sent = api.calls("POST", QUERIES)
    assert len(sent) == 1
    assert sent[0].headers["authorization"] == f"Bearer {PLANTED}"
    message = str(raised.value)
    assert "provider gcp" in message
    assert "credentials_file" in message
    assert PLANTED not in message


def test_a_payload_not_shaped_like_a_query_response_is_a_clear_error(tmp_path: Path) -> None:
    with running() as api:
        api.add(
            "POST",
            QUERIES,
            Reply(
                {
                    "kind": "bigquery#queryResponse",
                    "jobComplete": True,
                    "schema": SCHEMA,
                    "rows": [{"f": "not-cells"}],
                }
            ),
        )
        with pytest.raises(ProviderError, match="provider gcp: BigQuery answered with a malformed"):
            make_provider(api.url, tmp_path).fetch(NOW)


def test_an_unreadable_key_file_is_named_in_the_error(tmp_path: Path) -> None:
    provider = make_provider(
        "http://127.0.0.1:9", tmp_path, anonymous=False, credentials_file="missing.json"
    )
    with pytest.raises(ProviderError, match=r"provider gcp: cannot read credentials_file .*"):
        provider.fetch(NOW)


@pytest.mark.parametrize(
    "table",
    ["dataset_only.table", "proj.dataset.table`; DROP", "proj.data set.table"],
    ids=["two parts", "quote", "space"],
)
def test_a_table_that_is_not_project_dataset_table_is_rejected_by_config(table: str) -> None:
    text = f"providers:\n  gcp: {{type: gcp_bigquery, table: {json.dumps(table)}}}\n"
    with pytest.raises(ConfigError, match=r"providers\.gcp\.table"):
        parse_config(text)


def test_an_unknown_time_zone_is_rejected_by_config() -> None:
    text = f"providers:\n  gcp: {{type: gcp_bigquery, table: {TABLE}, timezone: Mars/Olympus}}\n"
    with pytest.raises(ConfigError, match=r"providers\.gcp\.timezone: unknown time zone"):
        parse_config(text)


def service_account_file(tmp_path: Path) -> Path:
    return tmp_path / "service-account.json"


def write_key(path: Path, token_uri: str) -> None:
    """A service account key whose token endpoint is the local server."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT,
                "private_key_id": "0123456789abcdef",
                "private_key": pem,
                "client_email": f"budget-exporter@{PROJECT}.iam.gserviceaccount.com",
                "client_id": "123456789012345678901",
                "token_uri": token_uri,
            }
        )
    )
