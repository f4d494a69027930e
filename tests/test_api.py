"""The JSON API: routes and statuses in-process, then the running exporter against its OpenAPI."""

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from budget_exporter.providers.support.atomic import atomic_write
from budget_exporter.service.state import StateDir
from budget_exporter.service.wsgi import MetricsApp, PublishedMetrics
from budget_exporter.views.api import JsonApi, PublishedSnapshot, openapi_text
from budget_exporter.views.snapshot_json import listing_bodies
from conftest import running_exporter, wait_for_http

OPENAPI = (
    Path(__file__).resolve().parent.parent
    / "exporter"
    / "budget_exporter"
    / "views"
    / "openapi.yml"
)


def budget(name: str, limit: float, spend: float, forecast: float | None = None) -> dict[str, Any]:
    """The JSON view of a budget, with the fields the admission check reads."""
    return {
        "name": name,
        "currency": "USD",
        "limit": limit,
        "spend": spend,
        "forecast": {"mean": forecast} if forecast is not None else None,
    }


SNAPSHOT = {
    "taken_at": "2026-04-16T00:00:00Z",
    "currency": "USD",
    "exchange_rates": {},
    "budgets": [budget("ci", 100.0, 92.0), budget("ml", 100.0, 50.0, forecast=120.0)],
    "slos": [{"name": "api"}],
}


def call(api: Any, path: str, query: str = "", method: str = "GET") -> tuple[str, Any]:
    """Status and decoded JSON body of one request to a WSGI app."""
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"] = status
        seen["headers"] = dict(headers)

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query}
    body = b"".join(api(environ, start_response))
    assert seen["headers"]["Content-Type"] in ("application/json", "application/yaml")
    return seen["status"], json.loads(body) if seen["headers"][
        "Content-Type"
    ] == "application/json" else body


API = JsonApi(lambda: SNAPSHOT)


@pytest.mark.parametrize(
    ("path", "query", "status", "verdict"),
    [
        ("/api/v1/budgets/ci/admit", "amount=7.00", "200 OK", "admit"),
        ("/api/v1/budgets/ci/admit", "amount=8.00", "200 OK", "admit"),
        ("/api/v1/budgets/ci/admit", "amount=8.01", "409 Conflict", "reject"),
        ("/api/v1/budgets/ml/admit", "amount=10", "409 Conflict", "forecast_overrun"),
    ],
    ids=[
        "below the remaining 8.00 is admitted",
        "at the remaining 8.00 is admitted",
        "above the remaining 8.00 is refused with 409",
        "a spend the forecast cannot take is refused with 409",
    ],
)
def test_the_admission_endpoint_answers_with_a_status_a_script_can_use(
    path, query, status, verdict
):
    got_status, body = call(API, path, query)
    assert (got_status, body["verdict"], body["budget"]) == (status, verdict, path.split("/")[4])
    assert body["taken_at"] == SNAPSHOT["taken_at"]


@pytest.mark.parametrize(
    ("path", "query", "status", "body"),
    [
        (
            "/api/v1/budgets",
            "",
            "200 OK",
            {"taken_at": "2026-04-16T00:00:00Z", "currency": "USD", "budgets": SNAPSHOT["budgets"]},
        ),
        ("/api/v1/budgets/ci", "", "200 OK", SNAPSHOT["budgets"][0]),
        (
            "/api/v1/slos",
            "",
            "200 OK",
            {"taken_at": "2026-04-16T00:00:00Z", "currency": "USD", "slos": [{"name": "api"}]},
        ),
        ("/api/v1/budgets/nope", "", "404 Not Found", {"error": "no budget named 'nope'"}),
        (
            "/api/v1/budgets/nope/admit",
            "amount=1",
            "404 Not Found",
            {"error": "no budget named 'nope'"},
        ),
        ("/api/v1/budgets/ci/spend", "", "404 Not Found", {"error": "no such API route"}),
        ("/api/v1/costs", "", "404 Not Found", {"error": "no such API route"}),
        ("/api/v1/budgets/ci/admit", "", "400 Bad Request", None),
        ("/api/v1/budgets/ci/admit", "amount=-1", "400 Bad Request", None),
        ("/api/v1/budgets/ci/admit", "amount=lots", "400 Bad Request", None),
        ("/api/v1/budgets/ci/admit", "amount=1&amount=2", "400 Bad Request", None),
        ("/api/v1/budgets/ci/admit", "amount=nan", "400 Bad Request", None),
    ],
    ids=[
        "the budget list carries every budget",
        "one budget by name",
        "the SLO list carries every SLO",
        "an unknown budget is 404",
        "admitting against an unknown budget is 404",
        "an unknown budget route is 404",
        "an unknown collection is 404",
        "an admission without an amount is 400",
        "a negative amount is 400",
        "a word for an amount is 400",
        "two amounts are 400",
        "not a number is 400",
    ],
)
def test_the_routes_of_the_api(path, query, status, body):
    got_status, got_body = call(API, path, query)
    assert got_status == status
    if body is not None:
        assert got_body == body
    else:
        assert "amount must be given once" in got_body["error"]


def test_the_api_is_503_before_the_first_snapshot_and_read_only():
    empty = JsonApi(lambda: None)
    assert call(empty, "/api/v1/budgets")[0] == "503 Service Unavailable"
    assert call(API, "/api/v1/budgets", method="POST")[0] == "405 Method Not Allowed"


def test_the_metrics_app_serves_the_api_and_its_description(tmp_path):
    app = MetricsApp(PublishedMetrics(tmp_path / "metrics.prom"))
    assert call(app, "/api/v1/budgets")[0] == "503 Service Unavailable"
    status, text = call(app, "/api/v1/openapi.yml")
    assert status == "200 OK" and text == openapi_text() == OPENAPI.read_bytes()


def scrape(app: Any, encoding: str = "gzip") -> tuple[dict[str, str], bytes]:
    """Headers and raw body of GET /metrics."""
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["headers"] = dict(headers)

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "HTTP_ACCEPT_ENCODING": encoding}
    body = b"".join(app(environ, start_response))
    return seen["headers"], body


def test_a_scrape_serves_the_gzip_the_leader_wrote_without_compressing(tmp_path, monkeypatch):
    state = StateDir(tmp_path)
    state.write_metrics(b"budget_spend 1\n")
    assert gzip.decompress(state.metrics_gzip_path.read_bytes()) == b"budget_spend 1\n"

    def no_compression(*args: Any, **kwargs: Any) -> bytes:
        raise AssertionError("a scrape compressed the exposition")

    monkeypatch.setattr(gzip, "compress", no_compression)
    app = MetricsApp(PublishedMetrics(state.metrics_path))
    headers, body = scrape(app)
    assert headers["Content-Encoding"] == "gzip"
    assert body == state.metrics_gzip_path.read_bytes()
    headers, body = scrape(app, encoding="identity")
    assert "Content-Encoding" not in headers and body == b"budget_spend 1\n"


def test_a_gzip_of_another_exposition_is_never_served_with_the_plain_file(tmp_path):
    state = StateDir(tmp_path)
    state.write_metrics(b"budget_spend 1\n")
    # The plain file of a newer snapshot next to the old gzip (or a newer gzip, old plain file).
    atomic_write(state.metrics_path, b"budget_spend 2\n")
    app = MetricsApp(PublishedMetrics(state.metrics_path))
    headers, body = scrape(app)
    assert "Content-Encoding" not in headers and body == b"budget_spend 2\n"
    state.write_metrics(b"budget_spend 3\n")
    headers, body = scrape(app)
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == b"budget_spend 3\n"


def test_the_api_lists_serve_the_bodies_published_with_the_snapshot(tmp_path):
    published = tmp_path / "snapshot.json"
    listings = listing_bodies(SNAPSHOT)
    # Marked, to show the listing is served from the published bytes, not encoded again.
    listings["budgets"] = listings["budgets"].replace('"USD"', '"USD" ', 1)
    published.write_text(json.dumps({**SNAPSHOT, "listings": listings}))
    api = JsonApi(PublishedSnapshot(published).get)
    seen: dict[str, Any] = {}
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/v1/budgets"}
    body = b"".join(api(environ, lambda status, headers: seen.update(status=status)))
    assert seen["status"] == "200 OK" and body == listings["budgets"].encode()
    assert call(api, "/api/v1/slos")[1] == json.loads(listings["slos"])
    # A snapshot file without listings (an older version's) still answers the same bodies.
    published.write_text(json.dumps(SNAPSHOT) + " ")
    assert call(api, "/api/v1/budgets")[1] == {
        "taken_at": SNAPSHOT["taken_at"],
        "currency": "USD",
        "budgets": SNAPSHOT["budgets"],
    }


CONFIG = """
timezone: UTC
refresh_interval: 1h
providers:
  costs: {type: csv, paths: [costs.csv], dimensions: [ServiceName]}
budgets:
  - {name: team, amount: 400, period: monthly, labels: {team: data}}
  - {name: daily, amount: 20, period: daily, planned: {2020-01-01: 5}, rollover: {max: 0.5}}
"""


@pytest.fixture(scope="module")
def exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real exporter on loopback, over ten days of costs up to today."""
    folder = tmp_path_factory.mktemp("api")
    today = datetime.now(UTC).date()
    rows = [f"{today - timedelta(days=day)},10,EC2" for day in range(1, 11)]
    (folder / "costs.csv").write_text("date,cost,ServiceName\n" + "\n".join(rows) + "\n")
    (folder / "config.yml").write_text(CONFIG)
    with running_exporter(folder / "config.yml", folder / "state") as url:
        wait_for_http(f"{url}/-/ready")
        yield url


SCHEMA = schemathesis.openapi.from_path(OPENAPI)


@pytest.mark.integration
@SCHEMA.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_running_api_answers_as_its_openapi_file_says(case, exporter):
    case.call_and_validate(base_url=exporter)


@pytest.mark.integration
def test_the_running_api_admits_what_remains_of_a_budget(exporter):
    listed = json.loads(wait_for_http(f"{exporter}/api/v1/budgets"))
    team = next(item for item in listed["budgets"] if item["name"] == "team")
    assert team["labels"] == {"team": "data"}
    assert team["remaining"] == pytest.approx(team["limit"] - team["spend"])
    body = json.loads(wait_for_http(f"{exporter}/api/v1/budgets/daily/admit?amount=0"))
    assert body["verdict"] == "admit"
