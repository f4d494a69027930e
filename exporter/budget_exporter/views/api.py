"""The read-only JSON API under /api/v1, served from the snapshot the leader publishes.

Routes (documented in ``openapi.yml``)::

    GET /api/v1/budgets                     every budget
    GET /api/v1/budgets/NAME                one budget
    GET /api/v1/budgets/NAME/admit?amount=  does a planned spend fit? 200 yes, 409 no
    GET /api/v1/slos                        every SLO
    GET /api/v1/slos/NAME                   one SLO
    GET /api/v1/openapi.yml                 the API description
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from ..money.admission import admit_in_hierarchy
from .snapshot_json import listing_bodies

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
# A plain decimal number, as openapi.yml says: float() would also take "1_000", " 5", "inf",
# "nan" and "-0" (echoed back as -0.0).
AMOUNT = re.compile(r"^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,2})?$")
JSON_TYPE = "application/json"
OPENAPI_FILE = "openapi.yml"

StartResponse = Callable[..., Any]


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

    def __init__(self, snapshot: Callable[[], dict[str, Any] | None]):
        self.snapshot = snapshot

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
        if method not in ("GET", "HEAD"):
            body = json.dumps({"error": "the API is read-only: use GET"}).encode()
            start_response(
                "405 Method Not Allowed",
                [
                    ("Content-Type", JSON_TYPE),
                    ("Content-Length", str(len(body))),
                    ("Allow", "GET, HEAD"),
                ],
            )
            return [body]
        parts = environ.get("PATH_INFO", "").removeprefix(PREFIX).strip("/").split("/")
        if parts == ["openapi.yml"]:
            return _reply(start_response, "200 OK", openapi_text(), "application/yaml", head)
        data = self.snapshot()
        if parts[0] not in ("budgets", "slos") or len(parts) > 3:
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
        if parts[0] != "budgets" or (len(parts) == 3 and parts[2] != "admit"):
            return _error(start_response, "404 Not Found", "no such API route", head)
        name = parts[1]
        budget = next((item for item in data["budgets"] if item["name"] == name), None)
        if budget is None:
            return _error(start_response, "404 Not Found", f"no budget named {name!r}", head)
        if len(parts) == 2:
            return _json(start_response, "200 OK", budget, head)
        query = parse_qs(environ.get("QUERY_STRING", ""))
        amount = _amount(query.get("amount", []))
        if amount is None:
            return _error(
                start_response,
                "400 Bad Request",
                "amount must be given once, as a number of at least 0 such as 8.00",
                head,
            )
        admission = admit_in_hierarchy(data["budgets"], name, amount)
        answer = {**admission.as_json(), "taken_at": data["taken_at"]}
        return _json(start_response, admission.verdict.http_status, answer, head)


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
