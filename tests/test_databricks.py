"""databricks against a local server shaped like the SQL Statement Execution API."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from budget_exporter.config.loader import parse_config
from budget_exporter.model.errors import ConfigError, ProviderError
from budget_exporter.providers.base import ProviderContext
from budget_exporter.providers.cost.databricks import DatabricksConfig, DatabricksProvider
from fakeapi import Reply, running

STATEMENTS = "/api/2.0/sql/statements"
STATEMENT_ID = "01ef9a3c-7b2d-1e4f-9c8b-0a1b2c3d4e5f"
STATEMENT = f"{STATEMENTS}/{STATEMENT_ID}"
TOKEN = "dapi0123456789abcdefplantedtoken"
ACCOUNT = "8a1b2c3d-0000-4000-8000-111122223333"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)

COLUMNS = [
    ("usage_date", "DATE"),
    ("account_id", "STRING"),
    ("workspace_id", "STRING"),
    ("sku_name", "STRING"),
    ("product", "STRING"),
    ("record_type", "STRING"),
    ("currency_code", "STRING"),
    ("tag_0", "STRING"),
    ("tag_1", "STRING"),
    ("usage_quantity", "DECIMAL"),
    ("cost", "DECIMAL"),
]


def usage(
    day: str,
    sku: str,
    record: str,
    project: str | None,
    category: str | None,
    quantity: str,
    cost: str | None,
    currency: str | None = "USD",
) -> list[Any]:
    """A result row: JSON_ARRAY values arrive as strings, nulls as null."""
    return [
        day,
        ACCOUNT,
        "1234567890123456",
        sku,
        "JOBS",
        record,
        currency,
        project,
        category,
        quantity,
        cost,
    ]


CHUNK_0 = [
    usage("2026-11-18", "PREMIUM_JOBS_COMPUTE", "ORIGINAL", "atlas", "Production", "100", "15.0"),
    usage("2026-11-18", "PREMIUM_SQL_PRO_COMPUTE", "ORIGINAL", "atlas", "Research", "10", "5.5"),
]
CHUNK_1 = [
    # The original 2026-11-17 row is cancelled and restated at a lower quantity.
    usage("2026-11-17", "PREMIUM_JOBS_COMPUTE", "ORIGINAL", "orion", None, "40", "6.0"),
    usage("2026-11-17", "PREMIUM_JOBS_COMPUTE", "RETRACTION", "orion", None, "-40", "-6.0"),
    usage("2026-11-17", "PREMIUM_JOBS_COMPUTE", "RESTATEMENT", "orion", None, "30", "4.5"),
]


def status(state: str) -> Reply:
    return Reply({"statement_id": STATEMENT_ID, "status": {"state": state}})


def succeeded() -> Reply:
    return Reply(
        {
            "statement_id": STATEMENT_ID,
            "status": {"state": "SUCCEEDED"},
            "manifest": {
                "format": "JSON_ARRAY",
                "schema": {
                    "column_count": len(COLUMNS),
                    "columns": [
                        {"name": name, "type_text": kind, "type_name": kind, "position": i}
                        for i, (name, kind) in enumerate(COLUMNS)
                    ],
                },
                "total_chunk_count": 2,
                "chunks": [
                    {"chunk_index": 0, "row_offset": 0, "row_count": len(CHUNK_0)},
                    {"chunk_index": 1, "row_offset": len(CHUNK_0), "row_count": len(CHUNK_1)},
                ],
                "total_row_count": len(CHUNK_0) + len(CHUNK_1),
                "truncated": False,
            },
            "result": {
                "chunk_index": 0,
                "row_offset": 0,
                "row_count": len(CHUNK_0),
                "next_chunk_index": 1,
                "next_chunk_internal_link": f"{STATEMENT}/result/chunks/1?row_offset=2",
                "data_array": CHUNK_0,
            },
        }
    )


def second_chunk(rows: list[list[Any]] = CHUNK_1) -> Reply:
    return Reply({"chunk_index": 1, "row_offset": 2, "row_count": len(rows), "data_array": rows})


def failed(message: str) -> Reply:
    return Reply(
        {
            "statement_id": STATEMENT_ID,
            "status": {
                "state": "FAILED",
                "error": {"error_code": "BAD_REQUEST", "message": message},
                "sql_state": "42501",
            },
        }
    )


def make_provider(api_url: str, tmp_path: Path, **overrides: Any) -> DatabricksProvider:
    settings = {
        "type": "databricks",
        "host": api_url,
        "warehouse_id": "abcdef0123456789",
        "token": TOKEN,
        "tags": ["Project", "OperationalCategory"],
        "history": "30d",
        "poll_interval": "2s",
        **overrides,
    }
    config = DatabricksConfig.model_validate(settings)
    provider = DatabricksProvider("dbx", config, ProviderContext("UTC", "USD", str(tmp_path)))
    provider.http.retry.sleep = lambda seconds: None
    provider.sleep = lambda seconds: None
    return provider


def total(frame: Any, **match: str) -> float:
    selected = frame
    for column, value in match.items():
        selected = selected[selected[column].astype(str) == value]
    return round(float(selected["cost"].sum()), 6)


def test_a_statement_is_polled_until_it_succeeds_and_every_chunk_is_read(
    tmp_path: Path,
) -> None:
    waits: list[float] = []
    with running() as api:
        api.add("POST", STATEMENTS, status("PENDING"))
        api.add("GET", STATEMENT, status("RUNNING"), succeeded())
        api.add("GET", f"{STATEMENT}/result/chunks/1", second_chunk())
        provider = make_provider(api.url, tmp_path)
        provider.sleep = waits.append
        data = provider.fetch(NOW)
        assert api.unanswered() == []
        assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in api.requests)
    assert waits == [2.0, 2.0]
    frame = data.frame
    assert total(frame) == 15.0 + 5.5 + 4.5
    # Retraction and restatement leave the corrected 2026-11-17 cost.
    assert total(frame, **{"tags.Project": "orion"}) == 4.5
    assert total(frame, **{"tags.OperationalCategory": "Research"}) == 5.5
    assert total(frame, SkuId="PREMIUM_JOBS_COMPUTE") == 19.5
    assert set(frame["BillingAccountId"].astype(str)) == {ACCOUNT}
    assert set(frame["ProviderName"].astype(str)) == {"Databricks"}
    assert data.bad_rows.count == 0


def test_dates_and_tag_keys_are_named_parameters_not_sql_text(tmp_path: Path) -> None:
    with running() as api:
        api.add("POST", STATEMENTS, succeeded())
        api.add("GET", f"{STATEMENT}/result/chunks/1", second_chunk())
        make_provider(api.url, tmp_path, tags=["Owner') OR 1=1 --"]).fetch(NOW)
        body = api.calls("POST", STATEMENTS)[0].json
    assert body["warehouse_id"] == "abcdef0123456789"
    assert body["format"] == "JSON_ARRAY"
    assert body["disposition"] == "INLINE"
    assert body["on_wait_timeout"] == "CONTINUE"
    assert body["parameters"] == [
        {"name": "start_date", "value": "2026-10-21", "type": "DATE"},
        {"name": "end_date", "value": "2026-11-21", "type": "DATE"},
        {"name": "tag_0", "value": "Owner') OR 1=1 --", "type": "STRING"},
    ]
    statement = body["statement"]
    assert "OR 1=1" not in statement and "2026-" not in statement
    assert ":start_date" in statement and "u.custom_tags[:tag_0]" in statement
    assert "system.billing.list_prices" in statement and "price_end_time" in statement


def test_a_failed_state_inside_http_200_is_an_error_with_the_reason_and_a_hint(
    tmp_path: Path,
) -> None:
    reason = (
        "[INSUFFICIENT_PERMISSIONS] Insufficient privileges: User does not have "
        "USE SCHEMA on Schema 'system.billing'. SQLSTATE: 42501"
    )
    with running() as api:
        api.add("POST", STATEMENTS, status("RUNNING"))
        api.add("GET", STATEMENT, failed(reason))
        with pytest.raises(ProviderError) as raised:
            make_provider(api.url, tmp_path).fetch(NOW)
    message = str(raised.value)
    assert message.startswith("provider dbx: statement FAILED: [INSUFFICIENT_PERMISSIONS]")
    assert "SELECT on system.billing.usage" in message


def test_a_statement_still_running_at_the_deadline_is_cancelled(tmp_path: Path) -> None:
    with running() as api:
        api.add("POST", STATEMENTS, status("PENDING"))
        api.add("POST", f"{STATEMENT}/cancel", Reply({}))
        with pytest.raises(ProviderError, match="statement_timeout"):
            make_provider(api.url, tmp_path, statement_timeout="0s").fetch(NOW)
        assert len(api.calls("POST", f"{STATEMENT}/cancel")) == 1


def test_a_sku_without_a_list_price_is_a_bad_row_and_the_rest_is_kept(tmp_path: Path) -> None:
    rows = [usage("2026-11-17", "ENTERPRISE_NEW_SKU", "ORIGINAL", "orion", None, "3", None, None)]
    with running() as api:
        api.add("POST", STATEMENTS, succeeded())
        api.add("GET", f"{STATEMENT}/result/chunks/1", second_chunk(rows))
        data = make_provider(api.url, tmp_path).fetch(NOW)
    assert total(data.frame) == 20.5
    assert data.bad_rows.count == 1
    assert "no list price for SKU ENTERPRISE_NEW_SKU" in str(data.bad_rows.examples[0])


@pytest.mark.parametrize("status_code", [429, 500, 503])
def test_throttling_and_server_errors_are_retried(tmp_path: Path, status_code: int) -> None:
    error = {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "try later"}
    with running() as api:
        api.add("POST", STATEMENTS, Reply(error, status_code, {"Retry-After": "1"}), succeeded())
        api.add("GET", f"{STATEMENT}/result/chunks/1", second_chunk())
        data = make_provider(api.url, tmp_path).fetch(NOW)
        assert len(api.calls("POST", STATEMENTS)) == 2
    assert total(data.frame) == 25.0


def test_a_rejected_token_fails_at_once_without_showing_it(tmp_path: Path) -> None:
    refusal = {"error_code": "UNAUTHENTICATED", "message": f"Invalid access token {TOKEN}"}
    with running() as api:
        api.add("POST", STATEMENTS, Reply(refusal, 401))
        with pytest.raises(ProviderError) as raised:
            make_provider(api.url, tmp_path).fetch(NOW)
        assert len(api.calls("POST", STATEMENTS)) == 1
    assert "provider dbx" in str(raised.value)
    assert "credentials were rejected" in str(raised.value)
    assert TOKEN not in str(raised.value)


@pytest.mark.parametrize(
    ("chunk", "expected"),
    [
        (Reply({"chunk_index": 1, "data_array": [["2026-11-17", "x"]]}), "do not match"),
        (Reply("upstream connect error"), "not JSON"),
    ],
    ids=["short rows", "not json"],
)
def test_a_malformed_chunk_is_a_clear_error(tmp_path: Path, chunk: Reply, expected: str) -> None:
    with running() as api:
        api.add("POST", STATEMENTS, succeeded())
        api.add("GET", f"{STATEMENT}/result/chunks/1", chunk)
        with pytest.raises(ProviderError, match=expected):
            make_provider(api.url, tmp_path).fetch(NOW)


def test_a_service_principal_gets_an_oauth_token_first(tmp_path: Path) -> None:
    (tmp_path / "dbx-secret").write_text("planted-client-secret\n")
    with running() as api:
        api.add(
            "POST",
            "/oidc/v1/token",
            Reply({"access_token": "oauth-token", "token_type": "Bearer", "expires_in": 3600}),
        )
        api.add("POST", STATEMENTS, succeeded())
        api.add("GET", f"{STATEMENT}/result/chunks/1", second_chunk())
        make_provider(
            api.url, tmp_path, token=None, client_id="sp-app-id", client_secret_file="dbx-secret"
        ).fetch(NOW)
        token_request = api.calls("POST", "/oidc/v1/token")[0]
        statement_request = api.calls("POST", STATEMENTS)[0]
    expected = base64.b64encode(b"sp-app-id:planted-client-secret").decode()
    assert token_request.headers["authorization"] == f"Basic {expected}"
    assert token_request.form == {"grant_type": ["client_credentials"], "scope": ["all-apis"]}
    assert statement_request.headers["authorization"] == "Bearer oauth-token"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("client_id: app", "either token"),
        ('warehouse_id: "x; DROP"', "should match pattern"),
    ],
    ids=["two credentials", "bad warehouse id"],
)
def test_bad_settings_are_named_in_the_config_error(extra: str, expected: str) -> None:
    key = extra.split(":")[0]
    base = {
        "type": "databricks",
        "host": "https://dbc-1.cloud.databricks.com",
        "warehouse_id": "abc123",
        "token": "t",
    }
    lines = [f"    {k}: {v}" for k, v in base.items() if k != key]
    text = "providers:\n  dbx:\n" + "\n".join(lines) + f"\n    {extra}\n"
    with pytest.raises(ConfigError, match=expected) as raised:
        parse_config(text)
    assert "providers.dbx" in str(raised.value)
