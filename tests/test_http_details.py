"""HTTP details of /metrics and the API: Accept-Encoding read as RFC 9110 says, OpenMetrics
served from bytes rendered once per snapshot when a scraper prefers it, a damaged snapshot
file answered with JSON, and admission amounts read as plain decimal numbers."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from attacks import attack, case
from budget_exporter.config.loader import load_config
from budget_exporter.metrics.exposition import render, render_openmetrics
from budget_exporter.service.refresh import Refresher
from budget_exporter.service.state import StateDir
from budget_exporter.service.wsgi import (
    MetricsApp,
    PublishedMetrics,
    accepts_gzip,
    prefers_openmetrics,
)
from budget_exporter.views.api import JsonApi, PublishedSnapshot
from test_api import SNAPSHOT
from test_slow_clients import small_config

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@pytest.mark.parametrize(
    ("header", "gzip_ok"),
    [
        case(
            "HTTP",
            f"Accept-Encoding: {header!r}",
            "gzip" if gzip_ok else "plain text",
            header,
            gzip_ok,
            found=14 if header in ("GZIP", "gzip;q=0", "gzip; q=0.000", "gzip;q=0, *") else None,
            id=header,
        )
        for header, gzip_ok in [
            ("gzip", True),
            ("GZIP", True),
            ("deflate, gzip;q=0.8", True),
            ("x-gzip", True),
            ("*", True),
            ("deflate, *;q=0.5", True),
            ("gzip;q=0", False),
            ("gzip; q=0.000", False),
            ("gzip;q=0, *", False),
            ("*;q=0", False),
            ("identity", False),
            ("", False),
            ("gzip;q=nonsense", False),
        ]
    ],
)
def test_accept_encoding_is_read_with_weights_and_any_case(header: str, gzip_ok: bool) -> None:
    assert accepts_gzip(header) is gzip_ok


@pytest.mark.parametrize(
    ("header", "openmetrics"),
    [
        case(
            "HTTP",
            "Prometheus' Accept header" if header == PROMETHEUS_ACCEPT else f"Accept: {header!r}",
            "OpenMetrics" if openmetrics else "the text format",
            header,
            openmetrics,
            found=14 if openmetrics else None,
            id=header,
        )
        for header, openmetrics in [
            (PROMETHEUS_ACCEPT, True),
            ("application/openmetrics-text", True),
            ("APPLICATION/OpenMetrics-Text; version=1.0.0", True),
            ("application/openmetrics-text;q=0.1, text/plain", False),
            ("application/openmetrics-text;q=0", False),
            ("text/plain;version=0.0.4", False),
            ("*/*", False),
            ("", False),
        ]
    ],
)
def test_openmetrics_is_served_when_the_accept_header_prefers_it(
    header: str, openmetrics: bool
) -> None:
    assert prefers_openmetrics(header) is openmetrics


def _scrape(app: Any, accept: str, encoding: str) -> tuple[dict[str, str], bytes]:
    seen: dict[str, Any] = {}
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/metrics",
        "HTTP_ACCEPT": accept,
        "HTTP_ACCEPT_ENCODING": encoding,
    }
    body = b"".join(app(environ, lambda status, headers: seen.update(headers=dict(headers))))
    return seen["headers"], body


def _samples(families: Any) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    return {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for family in families
        for s in family.samples
    }


@attack(
    "HTTP",
    "scrapes asking for OpenMetrics or text, with and without gzip",
    "the format and encoding asked for, from bytes rendered once",
    found=14,
)
def test_a_scrape_gets_the_format_and_encoding_it_asks_for_as_bytes_written_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(small_config(tmp_path))
    now = datetime(2024, 9, 20, tzinfo=UTC)
    refresher = Refresher(config)
    refresher.refresh(now)
    snapshot = refresher.snapshot(now)
    text, openmetrics = render(snapshot), render_openmetrics(snapshot)
    # The same samples in both formats, and the OpenMetrics one is well formed.
    assert _samples(parse_om(openmetrics.decode())) == _samples(parse_text(text.decode()))
    state = StateDir(tmp_path / "state")
    state.write_metrics(text, openmetrics)

    def no_rendering(*args: Any, **kwargs: Any) -> bytes:
        raise AssertionError("a scrape compressed or rendered the exposition")

    monkeypatch.setattr(gzip, "compress", no_rendering)
    app = MetricsApp(PublishedMetrics(state.metrics_path))
    cases = [
        (PROMETHEUS_ACCEPT, "gzip", "application/openmetrics-text", openmetrics, True),
        (PROMETHEUS_ACCEPT, "gzip;q=0", "application/openmetrics-text", openmetrics, False),
        ("text/plain", "GZIP", "text/plain; version=0.0.4", text, True),
        ("", "", "text/plain; version=0.0.4", text, False),
    ]
    for accept, encoding, content_type, plain, compressed in cases:
        headers, body = _scrape(app, accept, encoding)
        assert headers["Content-Type"].startswith(content_type), (accept, encoding)
        assert headers["Vary"] == "Accept, Accept-Encoding"
        assert (headers.get("Content-Encoding") == "gzip") is compressed, (accept, encoding)
        assert (gzip.decompress(body) if compressed else body) == plain


def _api(api: JsonApi, path: str, query: str = "") -> tuple[str, str, Any]:
    seen: dict[str, Any] = {}
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query}
    body = b"".join(
        api(environ, lambda status, headers: seen.update(status=status, headers=dict(headers)))
    )
    return seen["status"], seen["headers"]["Content-Type"], json.loads(body)


@pytest.mark.parametrize(
    "damage",
    [
        case(
            "HTTP",
            f"a snapshot.json that is {name}",
            "JSON answers; the last good snapshot stays served",
            damage,
            found=14,
            id=name,
        )
        for name, damage in [
            ("torn", b"{not json"),
            ("a list", b"[]"),
            ("of the wrong shape", b'{"budgets": 5}'),
            ("not text", b"\xff\xfe"),
        ]
    ],
)
def test_a_damaged_snapshot_file_gets_json_answers_and_the_last_good_one_stays(
    tmp_path: Path, damage: bytes
) -> None:
    published = tmp_path / "snapshot.json"
    published.write_bytes(damage)
    api = JsonApi(PublishedSnapshot(published).get)
    status, content_type, body = _api(api, "/api/v1/budgets")
    assert (status, content_type) == ("503 Service Unavailable", "application/json")
    assert "error" in body
    published.write_text(json.dumps(SNAPSHOT))
    assert _api(api, "/api/v1/budgets")[0] == "200 OK"
    published.write_bytes(damage + b" ")  # another version of the file, damaged again
    status, content_type, body = _api(api, "/api/v1/budgets/ci")
    assert (status, content_type, body["name"]) == ("200 OK", "application/json", "ci")


@attack("HTTP", "a snapshot the API cannot read", "a JSON 500", found=14)
def test_an_unexpected_failure_in_the_api_is_a_json_500() -> None:
    api = JsonApi(lambda: {"budgets": [{"no name": 1}], "taken_at": "x", "listings": {}})
    status, content_type, body = _api(api, "/api/v1/budgets/ci")
    assert (status, content_type, body) == (
        "500 Internal Server Error",
        "application/json",
        {"error": "internal error"},
    )


@pytest.mark.parametrize(
    ("amount", "status"),
    [
        case(
            "HTTP",
            f"admission amount={amount}",
            status,
            amount,
            status,
            found=14 if amount in ("1_000", "-0") else None,
            id=amount,
        )
        for amount, status in [
            ("1_000", "400 Bad Request"),
            ("-0", "400 Bad Request"),
            ("-1", "400 Bad Request"),
            (" 5", "400 Bad Request"),
            ("inf", "400 Bad Request"),
            ("nan", "400 Bad Request"),
            ("0x10", "400 Bad Request"),
            ("1e999", "400 Bad Request"),
            ("7", "200 OK"),
            ("7.", "200 OK"),
            (".5", "200 OK"),
            ("5e0", "200 OK"),
            ("0", "200 OK"),
        ]
    ],
)
def test_an_admission_amount_is_a_plain_decimal_number(amount: str, status: str) -> None:
    api = JsonApi(lambda: SNAPSHOT)
    answer = _api(api, "/api/v1/budgets/ci/admit", f"amount={amount}")
    assert answer[0] == status, answer
    if status == "200 OK":
        assert answer[2]["amount"] == float(amount)
        assert json.dumps(answer[2]["amount"]) != "-0.0"
