"""Reservations of planned spend and job accounting: the maths, the state file, the API, the CLI.

The race between processes and threads on a running server is in test_reservations_race.py.
"""

from __future__ import annotations

import io
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from budget_exporter.cli.commands import main
from budget_exporter.config.loader import load_config
from budget_exporter.money.reservations import (
    JobRecord,
    RequestError,
    Reservation,
    ReservationFileError,
    ReservationRequest,
    decide,
    held_against,
    job_accounting,
    parse_request,
    settle,
)
from budget_exporter.service.reservations import ReservationBook
from budget_exporter.service.webconfig import BasicAuth
from budget_exporter.service.wsgi import ExporterService
from budget_exporter.views.api import JsonApi

T0 = datetime(2026, 4, 16, 12, tzinfo=UTC)


def budget(name: str, limit: float, spend: float, parent: str = "") -> dict[str, Any]:
    """The JSON view of a budget with the fields reservations read."""
    return {
        "name": name,
        "currency": "USD",
        "limit": limit,
        "spend": spend,
        "remaining": limit - spend,
        "parent": parent,
        "forecast": None,
        "period": {"start": "2026-04-01T00:00:00Z"},
    }


def held(budget_name: str, amount: float, job: str | None = None, ttl: float = 3600) -> Reservation:
    return Reservation(
        id="0" * 16,
        budget=budget_name,
        amount=amount,
        holder="ci",
        created_at=T0,
        expires_at=T0 + timedelta(seconds=ttl),
        job=job,
    )


# --- the request ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([1, 2], "must be a JSON object"),
        ({"holder": "ci"}, "amount must be a number greater than 0"),
        ({"amount": "8", "holder": "ci"}, "amount must be a number greater than 0"),
        ({"amount": True, "holder": "ci"}, "amount must be a number greater than 0"),
        ({"amount": 0, "holder": "ci"}, "amount must be greater than 0 and finite"),
        ({"amount": -1, "holder": "ci"}, "amount must be greater than 0 and finite"),
        ({"amount": math.nan, "holder": "ci"}, "amount must be greater than 0 and finite"),
        ({"amount": math.inf, "holder": "ci"}, "amount must be greater than 0 and finite"),
        ({"amount": 2e15, "holder": "ci"}, "at most 1e15"),
        ({"amount": 8}, "holder must be a non-empty string"),
        ({"amount": 8, "holder": "  "}, "holder must be a non-empty string"),
        ({"amount": 8, "holder": 7}, "holder must be a non-empty string"),
        ({"amount": 8, "holder": "x" * 201}, "holder is 201 characters long; at most 200"),
        ({"amount": 8, "holder": "ci\nbot"}, "holder must not hold control characters"),
        ({"amount": 8, "holder": "ci", "ttl": 0}, "ttl must be between 1s and 31d"),
        ({"amount": 8, "holder": "ci", "ttl": -5}, "ttl must be between 1s and 31d"),
        ({"amount": 8, "holder": "ci", "ttl": 2678401}, "ttl must be between 1s and 31d"),
        ({"amount": 8, "holder": "ci", "ttl": "32d"}, "ttl must be between 1s and 31d"),
        ({"amount": 8, "holder": "ci", "ttl": 1e300}, "ttl must be between 1s and 31d"),
        ({"amount": 8, "holder": "ci", "ttl": "soon"}, "ttl: "),
        ({"amount": 8, "holder": "ci", "ttl": True}, "ttl must be a number of seconds"),
        ({"amount": 8, "holder": "ci", "ttl": [60]}, "ttl must be a number of seconds"),
        ({"amount": 8, "holder": "ci", "job": ""}, "job must be a non-empty string"),
        ({"amount": 8, "holder": "ci", "owner": "me"}, "unknown field(s) owner"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_bad_request_is_refused_with_the_field_named(body, message):
    with pytest.raises(RequestError) as raised:
        parse_request(body, "tags.job")
    assert message in str(raised.value)


def test_a_job_without_a_jobs_dimension_is_refused():
    with pytest.raises(RequestError, match=r"sets no jobs\.dimension"):
        parse_request({"amount": 8, "holder": "ci", "job": "build-7"}, None)


def test_a_request_takes_seconds_or_a_duration_and_defaults_to_an_hour():
    assert parse_request({"amount": 8, "holder": "ci"}, None).ttl == timedelta(hours=1)
    assert parse_request({"amount": 8, "holder": "ci", "ttl": 90}, None).ttl == timedelta(
        seconds=90
    )
    request = parse_request({"amount": 8.5, "holder": "ci", "ttl": "2h", "job": "j"}, "tags.job")
    assert request == ReservationRequest(8.5, "ci", timedelta(hours=2), "j")


# --- the decision ----------------------------------------------------------------------------

# A parent of 100 with 60 spent; its children A (50, 10 spent) and B (50, 20 spent).
TREE = [budget("org", 100, 60), budget("a", 50, 10, "org"), budget("b", 50, 20, "org")]


def test_reservations_on_a_budget_and_its_siblings_count_against_their_parent():
    active = [held("a", 25), held("b", 10)]
    assert held_against(TREE, active, {}) == {"a": 25, "b": 10, "org": 35}
    # b has 50 - 20 - 10 = 20 for 10 more, but org has 100 - 60 - 35 = 5.
    answer = decide(TREE, "b", 10, active, {})
    assert answer.verdict == "reject"
    assert answer.refused_by == "org"
    assert answer.short_by == pytest.approx(5.0)
    assert "5.00 USD remain of budget org (60.00 spent, 35.00 reserved of 100.00)" in answer.reason
    assert decide(TREE, "b", 5, active, {}).verdict == "admit"


def test_a_budget_refuses_for_itself_what_its_own_reservations_hold():
    answer = decide(TREE, "a", 16, [held("a", 25)], {})
    # a: 50 - 10 - 25 = 15 remain.
    assert (answer.verdict, answer.refused_by, answer.remaining) == ("reject", None, 15.0)
    assert answer.short_by == pytest.approx(1.0)


def test_a_reservation_holds_its_amount_less_its_jobs_cost_in_the_data():
    item = held("a", 40, job="j1")
    assert item.outstanding({"a": {"j1": 15.0}}) == 25.0
    assert item.outstanding({"b": {"j1": 15.0}}) == 40.0  # another budget's cost is not its job's
    kept, ended = settle([item], T0, {"a": {"j1": 15.0}})
    assert ended == [] and kept[0].seen == 15.0
    # A new period's data lacks the old cost; what was seen still counts.
    assert kept[0].outstanding({}) == 25.0
    kept, ended = settle(kept, T0, {"a": {"j1": 40.0}})
    assert (kept, [r.job for r in ended]) == ([], ["j1"])


def test_a_reservation_ends_when_its_ttl_passes():
    item = held("a", 10, ttl=60)
    assert settle([item], T0 + timedelta(seconds=59), {})[0] == [item]
    assert settle([item], T0 + timedelta(seconds=60), {})[0] == []


def test_job_accounting_sets_each_jobs_estimate_against_its_cost():
    since = datetime(2026, 4, 1, tzinfo=UTC)
    records = [
        JobRecord("a", "j1", 10.0, T0, "ci"),
        JobRecord("a", "j2", 20.0, T0 + timedelta(minutes=1), "ci"),
        JobRecord("a", "j3", 5.0, T0 + timedelta(minutes=2), "ci"),
        JobRecord("a", "old", 5.0, since - timedelta(seconds=1), "ci"),  # last period's
    ]
    figures = job_accounting(records, {"j1": 12.0, "j2": 15.0, "old": 99.0}, since)
    rows = [(j["job"], j["estimate"], j["actual"], j["over_estimate"]) for j in figures["jobs"]]
    assert rows == [
        ("j1", 10.0, 12.0, True),
        ("j2", 20.0, 15.0, False),
        ("j3", 5.0, 0.0, False),
    ]
    assert figures["jobs"][0]["difference"] == pytest.approx(2.0)
    assert (figures["count"], figures["over_estimate"]) == (3, 1)
    assert figures["over_estimate_share"] == pytest.approx(1 / 3)
    assert job_accounting([], {}, since)["over_estimate_share"] is None


# --- the state file ---------------------------------------------------------------------------


def request(amount: float, ttl: float = 3600, job: str | None = None) -> ReservationRequest:
    return ReservationRequest(amount, "ci", timedelta(seconds=ttl), job)


def test_the_book_grants_until_the_room_is_held_then_again_once_a_reservation_expires(tmp_path):
    book = ReservationBook(tmp_path)
    budgets = [budget("a", 100, 0)]
    first = book.reserve(budgets, {}, "a", request(80, ttl=60), T0)
    assert first.granted and first.reservation is not None
    refused = book.reserve(budgets, {}, "a", request(30), T0 + timedelta(seconds=30))
    assert not refused.granted and refused.admission.short_by == pytest.approx(10.0)
    later = book.reserve(budgets, {}, "a", request(30), T0 + timedelta(seconds=60))
    assert later.granted
    # The expired one left the file with that write.
    assert [r.amount for r in book.active(T0 + timedelta(seconds=60), {})] == [30.0]


def test_reservations_survive_a_new_book_on_the_same_folder_and_can_be_released(tmp_path):
    grant = ReservationBook(tmp_path).reserve([budget("a", 100, 0)], {}, "a", request(10), T0)
    assert grant.reservation is not None
    again = ReservationBook(tmp_path)
    assert [r.id for r in again.active(T0, {})] == [grant.reservation.id]
    assert again.release("b", grant.reservation.id, T0) is None  # another budget's id
    assert again.release("a", grant.reservation.id, T0) == grant.reservation
    assert again.active(T0, {}) == []
    assert again.release("a", grant.reservation.id, T0) is None


def test_a_damaged_file_is_an_error_naming_it_and_is_left_as_it_was(tmp_path):
    book = ReservationBook(tmp_path)
    book.path.parent.mkdir(parents=True)
    book.path.write_text('{"format": 1, "reservations": [{"id": "x"}], "jobs": []}')
    before = book.path.read_bytes()
    with pytest.raises(ReservationFileError, match=str(book.path)):
        book.reserve([budget("a", 100, 0)], {}, "a", request(10), T0)
    with pytest.raises(ReservationFileError, match="repaired or removed"):
        book.settle(T0, {})
    assert book.path.read_bytes() == before


def test_a_jobs_estimate_is_the_sum_of_what_it_reserved(tmp_path):
    book = ReservationBook(tmp_path)
    budgets = [budget("a", 100, 0)]
    book.reserve(budgets, {}, "a", request(10, job="j1"), T0)
    book.reserve(budgets, {}, "a", request(5, job="j1"), T0 + timedelta(minutes=1))
    book.reserve(budgets, {}, "a", request(7), T0)
    [record] = book.jobs("a")
    assert (record.job, record.estimate, record.first_reserved_at) == ("j1", 15.0, T0)


# --- the API ------------------------------------------------------------------------------------

SNAPSHOT = {
    "taken_at": "2026-04-16T00:00:00Z",
    "currency": "USD",
    "budgets": [budget("org", 100, 60), budget("a", 50, 10, "org")],
    "slos": [],
    "job_spend": {"a": {"j1": 4.0}},
}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def call(
    app: Any,
    path: str,
    method: str = "GET",
    body: bytes | None = None,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> tuple[str, dict[str, str], Any]:
    """Status, headers and decoded JSON body of one request."""
    seen: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(response_headers)

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body or b"")),
        "wsgi.input": io.BytesIO(body or b""),
        **(headers or {}),
    }
    payload = b"".join(app(environ, start_response))
    decoded = json.loads(payload) if payload and payload[:1] in b"{[" else payload
    return seen["status"], seen["headers"], decoded


@pytest.fixture
def api(tmp_path: Path) -> tuple[JsonApi, Clock]:
    clock = Clock()
    book = ReservationBook(tmp_path)
    app = JsonApi(lambda: SNAPSHOT, book, writes=True, jobs_dimension="tags.job", clock=clock)
    return app, clock


ROUTE = "/api/v1/budgets/a/reservations"


def post(app: Any, body: Any, path: str = ROUTE) -> tuple[str, dict[str, str], Any]:
    return call(app, path, "POST", json.dumps(body).encode())


def test_a_granted_reservation_is_listed_held_and_released(api):
    app, clock = api
    status, headers, answer = post(app, {"amount": 30, "holder": "ci", "ttl": "10m"})
    assert status == "201 Created" and answer["granted"] is True
    made = answer["reservation"]
    assert headers["Location"] == f"{ROUTE}/{made['id']}"
    assert made["expires_at"] == "2026-04-16T12:10:00Z" and made["outstanding"] == 30
    # a has 50 - 10 - 30 = 10 left; org has 100 - 60 - 30 = 10.
    status, _, listed = call(app, ROUTE)
    assert status == "200 OK"
    assert (listed["held"], listed["available"], len(listed["reservations"])) == (30, 10, 1)
    status, _, refused = post(app, {"amount": 10.01, "holder": "other"})
    assert status == "409 Conflict" and refused["granted"] is False
    assert refused["reservation"] is None and refused["admission"]["refused_by"] == "a"
    assert refused["admission"]["short_by"] == pytest.approx(0.01)
    status, _, released = call(app, f"{ROUTE}/{made['id']}", "DELETE")
    assert status == "200 OK" and released["released"]["id"] == made["id"]
    assert call(app, f"{ROUTE}/{made['id']}", "DELETE")[0] == "404 Not Found"
    assert post(app, {"amount": 40, "holder": "other"})[0] == "201 Created"
    clock.now = T0 + timedelta(hours=1)  # the default TTL has passed
    assert call(app, ROUTE)[2]["reservations"] == []


def test_a_reservation_with_a_job_holds_less_its_jobs_cost_and_records_an_estimate(api):
    app, _ = api
    status, _, answer = post(app, {"amount": 10, "holder": "ci", "job": "j1"})
    assert status == "201 Created" and answer["reservation"]["outstanding"] == 6.0
    status, _, jobs = call(app, "/api/v1/budgets/a/jobs")
    assert status == "200 OK"
    assert jobs["dimension"] == "tags.job" and jobs["count"] == 1
    assert (jobs["jobs"][0]["estimate"], jobs["jobs"][0]["actual"]) == (10.0, 4.0)
    assert jobs["over_estimate_share"] == 0.0


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "status", "message"),
    [
        ("POST", "/api/v1/budgets/nope/reservations", b"{}", None, "404", "no budget named"),
        ("POST", ROUTE, b"{not json", None, "400", "the body is not JSON"),
        ("POST", ROUTE, b'{"amount": -1, "holder": "ci"}', None, "400", "greater than 0"),
        ("POST", ROUTE, b'{"amount": NaN, "holder": "ci"}', None, "400", "finite"),
        ("POST", ROUTE, b"\xff\xfe", None, "400", "the body is not JSON"),
        ("POST", ROUTE, b"{}", "text/plain", "415", "Content-Type: application/json"),
        ("POST", ROUTE, b" " * (16 * 1024 + 1), None, "413", "larger than 16384 bytes"),
        ("DELETE", ROUTE + "/not-an-id", None, None, "404", "no such reservation id"),
        ("DELETE", ROUTE, None, None, "405", "use GET or HEAD or POST"),
        ("PUT", ROUTE + "/0123456789abcdef", None, None, "405", "use DELETE"),
        ("GET", "/api/v1/budgets/a/reservations/0123456789abcdef", None, None, "405", "DELETE"),
    ],
    ids=[
        "an unknown budget is 404",
        "a body that is not JSON is 400",
        "a negative amount is 400",
        "NaN is 400",
        "bytes that are not UTF-8 are 400",
        "a form or text body is 415",
        "a body over 16 KiB is 413",
        "an id of the wrong shape is 404",
        "DELETE without an id is 405",
        "PUT on a reservation is 405",
        "GET on one reservation is 405",
    ],
)
def test_bad_reservation_requests_get_a_clear_error(
    api, method, path, body, content_type, status, message
):
    got, _, answer = call(api[0], path, method, body, content_type or "application/json")
    assert got.startswith(status)
    assert message in answer["error"]
    assert ReservationBook(api[0].reservations.folder.parent).active(T0, {}) == []


def test_writes_are_refused_unless_reservations_are_enabled(tmp_path):
    app = JsonApi(lambda: SNAPSHOT, ReservationBook(tmp_path), jobs_dimension=None)
    status, _, answer = post(app, {"amount": 1, "holder": "ci"})
    assert status == "403 Forbidden" and "--web.enable-reservations" in answer["error"]
    assert call(app, ROUTE)[0] == "200 OK"  # reading them is always on
    status, _, answer = call(app, "/api/v1/budgets/a/jobs")
    assert status == "404 Not Found" and "jobs.dimension" in answer["error"]


def test_writes_sit_behind_the_web_configs_basic_auth(tmp_path):
    import bcrypt

    secret = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
    inner = JsonApi(lambda: SNAPSHOT, ReservationBook(tmp_path), writes=True, clock=Clock())
    app = BasicAuth(inner, {"ci": secret})
    body = json.dumps({"amount": 1, "holder": "ci"}).encode()
    assert call(app, ROUTE, "POST", body)[0] == "401 Unauthorized"
    assert ReservationBook(tmp_path).active(T0, {}) == []
    token = "Basic " + __import__("base64").b64encode(b"ci:pw").decode()
    status = call(app, ROUTE, "POST", body, headers={"HTTP_AUTHORIZATION": token})[0]
    assert status == "201 Created"


def test_a_damaged_reservations_file_is_503_naming_it(api):
    app, _ = api
    app.reservations.path.parent.mkdir(parents=True, exist_ok=True)
    app.reservations.path.write_text("[")
    status, _, answer = post(app, {"amount": 1, "holder": "ci"})
    assert status == "503 Service Unavailable"
    assert str(app.reservations.path) in answer["error"]
    assert app.reservations.path.read_text() == "["


# --- the exporter and the command line ---------------------------------------------------------

CONFIG = """
timezone: UTC
jobs: {dimension: tags.job}
providers:
  costs: {type: csv, paths: [costs.csv], dimensions: {ServiceName: service, tags.job: job}}
budgets:
  - {name: org, amount: 1000, period: monthly}
  - {name: team, amount: 400, period: monthly, parent: org}
"""
AT = datetime(2026, 4, 16, tzinfo=UTC)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """10 a day from April 1 to 15, 2026 (150 spent); jobs j1 (12) and j2 (3) on April 15."""
    rows = [f"2026-04-{day:02d},10,EC2," for day in range(1, 15)]
    rows += ["2026-04-15,-5,EC2,", "2026-04-15,12,EC2,j1", "2026-04-15,3,EC2,j2"]
    (tmp_path / "costs.csv").write_text("date,cost,service,job\n" + "\n".join(rows) + "\n")
    path = tmp_path / "config.yml"
    path.write_text(CONFIG)
    return path


def publish(config_file: Path, state: Path) -> ExporterService:
    service = ExporterService(load_config(str(config_file)), state)
    service.step(AT, datetime.min.replace(tzinfo=UTC))
    return service


def samples(state: Path, name: str) -> dict[str, float]:
    text = (state / "metrics.prom").read_text()
    return {
        sample.labels["budget"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_admit_reserve_holds_the_amount_the_report_and_the_metric_show_it(
    config_file, tmp_path, capsys
):
    state = tmp_path / "state"
    publish(config_file, state)
    assert samples(state, "budget_reserved") == {}  # no series while nothing is held
    admit = ["admit", "--config.file", str(config_file), "--state.dir", str(state)]
    admit += ["--budget", "team", "--reserve", "--holder", "ci", "--ttl", "2h"]
    # team: 400 - 150 = 250 remain; the forecast (about 300 for the month) is not asked here.
    assert main([*admit, "--amount", "200", "--job", "j1"]) in (0, 3)
    out = capsys.readouterr().out
    assert out.startswith("reserved ") and "200.00 USD held against budget team" in out
    assert main([*admit, "--amount", "62.01"]) == 1
    # j1 has 12 in the data: its reservation holds 188, leaving 62.
    assert "62.00 USD remain of budget team (150.00 spent, 188.00 reserved" in (
        capsys.readouterr().out
    )
    assert main([*admit, "--amount", "62"]) in (0, 3)
    capsys.readouterr()
    publish(config_file, state)
    assert samples(state, "budget_reserved") == {"team": 250.0, "org": 250.0}
    report = ["report", "--config.file", str(config_file), "--state.dir", str(state)]
    assert main([*report, "--budget", "team"]) == 0
    text = capsys.readouterr().out
    assert "reserved  250.00 USD held by 2 reservation(s) here; 0.00 can still be granted" in text
    assert "jobs      1 reserved this period, 0 over their estimate (0%)" in text
    assert main([*report, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"taken_at", "currency", "exchange_rates", "budgets", "slos"}
    team = next(item for item in data["budgets"] if item["name"] == "team")
    assert team["jobs"]["jobs"][0] == {
        "job": "j1",
        "holder": "ci",
        "reserved_at": team["jobs"]["jobs"][0]["reserved_at"],
        "estimate": 200.0,
        "actual": 12.0,
        "over_estimate": False,
        "difference": -188.0,
    }


def test_a_job_over_its_estimate_is_counted_and_its_cost_releases_the_reservation(
    config_file, tmp_path, capsys
):
    state = tmp_path / "state"
    publish(config_file, state)
    admit = ["admit", "--config.file", str(config_file), "--state.dir", str(state)]
    admit += ["--budget", "team", "--reserve", "--holder", "ci", "--amount", "2"]
    assert main([*admit, "--job", "j2"]) in (0, 3)  # j2 cost 3 already: over its estimate
    assert main([*admit, "--job", "j9"]) in (0, 3)  # no cost yet
    capsys.readouterr()
    publish(config_file, state)  # the leader drops the reservation j2's cost covers
    book = ReservationBook(state)
    assert [r.job for r in book.active(datetime.now(UTC), {})] == ["j9"]
    report = ["report", "--config.file", str(config_file), "--state.dir", str(state)]
    assert main([*report, "--budget", "team"]) == 0
    text = capsys.readouterr().out
    assert "jobs      2 reserved this period, 1 over their estimate (50%)" in text
    assert "most over: j2 3.00 against 2.00 estimated" in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--amount", "0"], "amount must be greater than 0"),
        (["--amount", "1", "--ttl", "40d"], "ttl must be between 1s and 31d"),
        (["--amount", "1", "--holder", "x" * 300], "holder is 300 characters long"),
        (["--amount", "1", "--at", "2026-04-16T00:00:00Z"], "cannot be given with --at"),
    ],
    ids=["a zero amount", "a ttl over 31 days", "a long holder", "--at"],
)
def test_admit_reserve_refuses_bad_input_with_exit_2(config_file, tmp_path, capsys, extra, message):
    state = tmp_path / "state"
    publish(config_file, state)
    args = ["admit", "--config.file", str(config_file), "--state.dir", str(state)]
    assert main([*args, "--budget", "team", "--reserve", *extra]) == 2
    assert message in capsys.readouterr().err
    assert ReservationBook(state).active(datetime.now(UTC), {}) == []


def test_admit_and_the_admit_route_count_what_reservations_hold(config_file, tmp_path, capsys):
    state = tmp_path / "state"
    publish(config_file, state)
    base = ["admit", "--config.file", str(config_file), "--state.dir", str(state)]
    base += ["--budget", "team"]
    assert main([*base, "--amount", "100", "--reserve", "--holder", "ci"]) in (0, 3)
    capsys.readouterr()
    # team: 400 - 150 - 100 = 150 remain for anyone else.
    assert main([*base, "--amount", "150.01"]) == 1
    assert "150.00 USD remain of budget team (150.00 spent, 100.00 reserved" in (
        capsys.readouterr().out
    )
    snapshot = json.loads((state / "snapshot.json").read_bytes())
    app = JsonApi(lambda: snapshot, ReservationBook(state))
    seen: dict[str, Any] = {}
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/v1/budgets/team/admit"}
    body = app(
        {**environ, "QUERY_STRING": "amount=150.01"},
        lambda status, headers: seen.update(status=status),
    )
    answer = json.loads(b"".join(body))
    assert seen["status"] == "409 Conflict"
    assert (answer["remaining"], answer["short_by"]) == (150.0, pytest.approx(0.01))


def test_check_warns_when_no_provider_has_the_jobs_dimension(config_file, tmp_path, capsys):
    args = ["check", "--config.file", str(config_file)]
    assert main(args) == 0
    assert "jobs.dimension" not in capsys.readouterr().out
    config_file.write_text(
        CONFIG.replace("jobs: {dimension: tags.job}", "jobs: {dimension: tags.run}")
    )
    assert main(args) == 0
    assert (
        "warning: jobs.dimension 'tags.run' is not a column of any provider's data: reservations "
        "with a job end by their TTL only" in capsys.readouterr().out
    )
