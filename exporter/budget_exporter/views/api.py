"""The JSON API under /api/v1, served from the snapshot the leader publishes.

Routes (documented in ``openapi.yml``)::

    GET    /api/v1/budgets                        every budget
    GET    /api/v1/budgets/NAME                   one budget
    GET    /api/v1/budgets/NAME/admit?amount=     does a planned spend fit? 200 yes, 409 no
    GET    /api/v1/budgets/NAME/reservations      the reservations held against it
    POST   /api/v1/budgets/NAME/reservations      hold an amount: 201 granted, 409 it does not fit
    DELETE /api/v1/budgets/NAME/reservations/ID   release one
    GET    /api/v1/budgets/NAME/jobs              each job's estimate against its actual cost
    GET    /api/v1/slos                           every SLO
    GET    /api/v1/slos/NAME                      one SLO
    GET    /api/v1/openapi.yml                    the API description

Only the reservation routes write, and only when the server was started with
``--web.enable-reservations``; they sit behind the same basic auth as every route.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs

from ..money.admission import admit_in_hierarchy
from ..money.reservations import (
    Grant,
    JobRecord,
    JobSpend,
    RequestError,
    Reservation,
    ReservationFileError,
    ReservationRequest,
    TooManyReservations,
    held_against,
    job_accounting,
    parse_request,
)
from .snapshot_json import listing_bodies

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
# A plain decimal number, as openapi.yml says: float() would also take "1_000", " 5", "inf",
# "nan" and "-0" (echoed back as -0.0).
AMOUNT = re.compile(r"^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,2})?$")
JSON_TYPE = "application/json"
OPENAPI_FILE = "openapi.yml"

StartResponse = Callable[..., Any]
MAX_BODY = 16 * 1024  # a reservation request is a few fields
RESERVATION_ID = re.compile(r"^[0-9a-f]{16}$")


class Reservations(Protocol):
    """The reservations of the state folder (``service.reservations.ReservationBook``)."""

    def reserve(
        self,
        budgets: Sequence[dict[str, Any]],
        job_spend: JobSpend,
        name: str,
        request: ReservationRequest,
        now: datetime,
    ) -> Grant: ...

    def release(self, name: str, reservation_id: str, now: datetime) -> Reservation | None: ...

    def active(self, now: datetime, job_spend: JobSpend) -> list[Reservation]: ...

    def jobs(self, name: str) -> list[JobRecord]: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


def openapi_text() -> bytes:
    """The OpenAPI description shipped with the package."""
    return resources.files("budget_exporter.views").joinpath(OPENAPI_FILE).read_bytes()


class PublishedSnapshot:
    """The JSON snapshot file of the state directory, parsed again only when it changes."""

    def __init__(self, path: Path):
        self.path = path
        self._signature: tuple[int, int, int] | None = None
        self._data: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def get(self) -> dict[str, Any] | None:
        """The latest snapshot, or None before the first one."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return self._data
        signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if self._signature != signature:
                # Tried once per version of the file: a damaged one is not parsed per request.
                self._signature = signature
                try:
                    data = json.loads(self.path.read_bytes())
                    # The list bodies come serialised (an older version's file: rendered here).
                    listings = data.get("listings") or listing_bodies(data)
                    data["listings"] = {kind: body.encode() for kind, body in listings.items()}
                    if not isinstance(data.get("budgets"), list) or "taken_at" not in data:
                        raise ValueError("no budgets or taken_at")
                except (OSError, ValueError, TypeError, AttributeError, KeyError) as error:
                    # The last good snapshot stays served; the next evaluation writes a new file.
                    log.warning("ignoring unreadable snapshot %s: %s", self.path, error)
                    return self._data
                self._data = data
            return self._data


class JsonApi:
    """WSGI callable for the /api/v1 routes."""

    def __init__(
        self,
        snapshot: Callable[[], dict[str, Any] | None],
        reservations: Reservations | None = None,
        *,
        writes: bool = False,
        jobs_dimension: str | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ):
        self.snapshot = snapshot
        self.reservations = reservations
        self.writes = writes and reservations is not None
        self.jobs_dimension = jobs_dimension
        self.clock = clock

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            return self._route(environ, start_response)
        except Exception:  # an API client gets JSON, never the server's HTML error page
            log.exception("API request %s failed", environ.get("PATH_INFO", ""))
            head = environ.get("REQUEST_METHOD") == "HEAD"
            return _error(start_response, "500 Internal Server Error", "internal error", head)

    def _route(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        head = method == "HEAD"
        parts = environ.get("PATH_INFO", "").removeprefix(PREFIX).strip("/").split("/")
        allowed = _allowed(parts)
        if method not in allowed:
            body = json.dumps({"error": f"use {' or '.join(allowed)} here"}).encode()
            start_response(
                "405 Method Not Allowed",
                [
                    ("Content-Type", JSON_TYPE),
                    ("Content-Length", str(len(body))),
                    ("Allow", ", ".join(allowed)),
                ],
            )
            return [body]
        if parts == ["openapi.yml"]:
            return _reply(start_response, "200 OK", openapi_text(), "application/yaml", head)
        data = self.snapshot()
        if parts[0] not in ("budgets", "slos") or len(parts) > 4:
            return _error(start_response, "404 Not Found", "no such API route", head)
        if data is None:
            return _error(
                start_response,
                "503 Service Unavailable",
                "no snapshot yet: the first refresh is running",
                head,
            )
        if len(parts) == 1:  # a listing: bytes rendered once per snapshot, served as they are
            listings = data.get("listings")
            body = listings[parts[0]] if listings else listing_bodies(data)[parts[0]].encode()
            return _reply(start_response, "200 OK", body, JSON_TYPE, head)
        if parts[0] == "slos" and len(parts) == 2:
            slo = next((item for item in data["slos"] if item["name"] == parts[1]), None)
            if slo is None:
                return _error(start_response, "404 Not Found", f"no SLO named {parts[1]!r}", head)
            return _json(start_response, "200 OK", slo, head)
        if parts[0] != "budgets" or (len(parts) >= 3 and parts[2] not in BUDGET_ROUTES):
            return _error(start_response, "404 Not Found", "no such API route", head)
        if len(parts) == 4 and parts[2] != "reservations":
            return _error(start_response, "404 Not Found", "no such API route", head)
        name = parts[1]
        budget = next((item for item in data["budgets"] if item["name"] == name), None)
        if budget is None:
            return _error(start_response, "404 Not Found", f"no budget named {name!r}", head)
        if len(parts) == 2:
            return _json(start_response, "200 OK", budget, head)
        if parts[2] in ("reservations", "jobs"):
            if self.reservations is None:
                return _error(
                    start_response,
                    "404 Not Found",
                    "reservations are not kept here: the API has no state folder",
                    head,
                )
            try:
                return self._reservations(environ, start_response, data, budget, parts, method)
            except ReservationFileError as error:
                log.error("%s", error)
                return _error(start_response, "503 Service Unavailable", str(error), head)
            except OSError as error:  # a state folder that is read-only, full, not mounted
                message = f"reservations cannot be kept: {error.strerror} ({error.filename})"
                log.error("%s", message)
                return _error(start_response, "503 Service Unavailable", message, head)
        query = parse_qs(environ.get("QUERY_STRING", ""))
        amount = _amount(query.get("amount", []))
        if amount is None:
            return _error(
                start_response,
                "400 Bad Request",
                "amount must be given once, as a number of at least 0 such as 8.00",
                head,
            )
        held: dict[str, float] = {}
        if self.reservations is not None:  # what is reserved is no longer free to admit
            job_spend = data.get("job_spend") or {}
            try:
                active = self.reservations.active(self.clock(), job_spend)
            except ReservationFileError as error:
                log.error("%s", error)
                return _error(start_response, "503 Service Unavailable", str(error), head)
            held = held_against(data["budgets"], active, job_spend)
        admission = admit_in_hierarchy(data["budgets"], name, amount, held)
        answer = {**admission.as_json(), "taken_at": data["taken_at"]}
        return _json(start_response, admission.verdict.http_status, answer, head)

    def _reservations(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        data: dict[str, Any],
        budget: dict[str, Any],
        parts: list[str],
        method: str,
    ) -> Iterable[bytes]:
        """The reservation and job routes of one budget (known to the snapshot)."""
        assert self.reservations is not None
        head = method == "HEAD"
        name = budget["name"]
        job_spend: JobSpend = data.get("job_spend") or {}
        now = self.clock()
        if parts[2] == "jobs":
            if not self.jobs_dimension:
                return _error(
                    start_response,
                    "404 Not Found",
                    "job accounting is off: set jobs.dimension (tags.job, say) in the config",
                    head,
                )
            since = datetime.fromisoformat(budget["period"]["start"].replace("Z", "+00:00"))
            answer = {
                "budget": name,
                "currency": budget["currency"],
                "dimension": self.jobs_dimension,
                "period_start": budget["period"]["start"],
                **job_accounting(self.reservations.jobs(name), job_spend.get(name, {}), since),
                "taken_at": data["taken_at"],
            }
            return _json(start_response, "200 OK", answer, head)
        if method in ("POST", "DELETE") and not self.writes:
            return _error(
                start_response,
                "403 Forbidden",
                "reservations are read-only on this server: start it with "
                "--web.enable-reservations to take and release them",
                head,
            )
        if method == "DELETE":
            if len(parts) != 4 or not RESERVATION_ID.match(parts[3]):
                return _error(start_response, "404 Not Found", "no such reservation id", head)
            released = self.reservations.release(name, parts[3], now)
            if released is None:
                return _error(
                    start_response,
                    "404 Not Found",
                    f"no active reservation {parts[3]} on budget {name!r}",
                    head,
                )
            return _json(start_response, "200 OK", {"released": released.as_json()}, head)
        if len(parts) == 4:
            return _error(start_response, "404 Not Found", "no such API route", head)
        if method == "POST":
            return self._reserve(environ, start_response, data, name, job_spend, now)
        active = self.reservations.active(now, job_spend)
        held = held_against(data["budgets"], active, job_spend).get(name, 0.0)
        remaining = budget["remaining"]
        answer = {
            "budget": name,
            "currency": budget["currency"],
            "remaining": remaining,
            "held": held,
            "available": remaining - held if remaining is not None else None,
            "reservations": [item.as_json(job_spend) for item in active if item.budget == name],
            "taken_at": data["taken_at"],
        }
        return _json(start_response, "200 OK", answer, head)

    def _reserve(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        data: dict[str, Any],
        name: str,
        job_spend: JobSpend,
        now: datetime,
    ) -> Iterable[bytes]:
        assert self.reservations is not None
        kind = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if kind != JSON_TYPE:
            # A browser sends a form or text/plain across sites without asking first; JSON it
            # cannot send without the server's consent (CORS), so no page can reserve for you.
            return _error(
                start_response,
                "415 Unsupported Media Type",
                "send the reservation as Content-Type: application/json",
                False,
            )
        body = _body(environ)
        if body is None:
            return _error(
                start_response,
                "413 Content Too Large",
                f"the body is larger than {MAX_BODY} bytes",
                False,
            )
        try:
            decoded = json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            return _error(
                start_response, "400 Bad Request", f"the body is not JSON: {error}", False
            )
        try:
            request = parse_request(decoded, self.jobs_dimension)
        except RequestError as error:
            return _error(start_response, "400 Bad Request", str(error), False)
        try:
            grant = self.reservations.reserve(data["budgets"], job_spend, name, request, now)
        except TooManyReservations as error:
            return _error(start_response, "429 Too Many Requests", str(error), False)
        admission = {**grant.admission.as_json()}
        if not grant.granted:
            admission["refused_by"] = grant.admission.refused_by or name
        answer = {
            "granted": grant.granted,
            "reservation": grant.reservation.as_json(job_spend) if grant.reservation else None,
            "admission": admission,
            "taken_at": data["taken_at"],
        }
        if grant.reservation is None:
            return _json(start_response, "409 Conflict", answer, False)
        location = f"{PREFIX}/budgets/{name}/reservations/{grant.reservation.id}"
        payload = json.dumps(answer, separators=(",", ":"), allow_nan=False).encode()
        start_response(
            "201 Created",
            [
                ("Content-Type", JSON_TYPE),
                ("Content-Length", str(len(payload))),
                ("Cache-Control", "no-store"),
                ("Location", location),
            ],
        )
        return [payload]


BUDGET_ROUTES = ("admit", "reservations", "jobs")


def _allowed(parts: list[str]) -> tuple[str, ...]:
    """The methods a route takes (unknown routes: the read-only ones, then 404)."""
    if len(parts) == 3 and parts[0] == "budgets" and parts[2] == "reservations":
        return ("GET", "HEAD", "POST")
    if len(parts) == 4 and parts[0] == "budgets" and parts[2] == "reservations":
        return ("DELETE",)
    return ("GET", "HEAD")


def _body(environ: dict[str, Any]) -> bytes | None:
    """The request body, or None when it is larger than MAX_BODY."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        return None
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    # Without a length (chunked), read one byte past the limit to tell a large body.
    payload: bytes = stream.read(length if length > 0 else MAX_BODY + 1)
    return payload if len(payload) <= MAX_BODY else None


def _amount(values: list[str]) -> float | None:
    if len(values) != 1 or not AMOUNT.match(values[0]):
        return None
    amount = float(values[0])
    return amount if math.isfinite(amount) else None


def _reply(
    start_response: StartResponse, status: str, body: bytes, content_type: str, head: bool
) -> Iterable[bytes]:
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
    ]
    start_response(status, headers)
    return [] if head else [body]


def _json(start_response: StartResponse, status: str, body: Any, head: bool) -> Iterable[bytes]:
    payload = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
    return _reply(start_response, status, payload, JSON_TYPE, head)


def _error(start_response: StartResponse, status: str, message: str, head: bool) -> Iterable[bytes]:
    return _json(start_response, status, {"error": message}, head)
