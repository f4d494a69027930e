"""A local HTTP server that answers scripted replies, standing in for cloud billing APIs.

Each route (method and path, without the query string) has a queue of replies served in order;
a request with no reply left gets HTTP 599 so a test sees it failed instead of hanging. Every
request is recorded with its query, headers and decoded body, so tests can assert what was sent.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

UNSCRIPTED = 599


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a JSON-able body (or raw text/bytes), a status and headers."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Recorded:
    """A request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body) if self.body else None

    @property
    def form(self) -> dict[str, list[str]]:
        """The body decoded as a form."""
        return parse_qs(self.body.decode())


Responder = Reply | Callable[[Recorded], Reply]


class FakeApi:
    """Scripted replies per route on 127.0.0.1; use ``with running(api)`` to serve."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], deque[Responder]] = {}
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server, without a trailing slash."""
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, method: str, path: str, *replies: Responder) -> None:
        """Queue replies for ``method path``; they are served once each, in order."""
        with self._lock:
            self._routes.setdefault((method.upper(), path), deque()).extend(replies)

    def calls(self, method: str, path: str) -> list[Recorded]:
        """Requests received on one route."""
        return [r for r in self.requests if r.method == method.upper() and r.path == path]

    def unanswered(self) -> list[tuple[str, str]]:
        """Routes that still have replies queued."""
        return [route for route, queue in self._routes.items() if queue]

    def _answer(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            queue = self._routes.get((request.method, request.path))
            responder = queue.popleft() if queue else None
        if responder is None:
            return Reply({"error": f"unscripted {request.method} {request.path}"}, UNSCRIPTED)
        return responder(request) if callable(responder) else responder

    def start(self) -> None:
        """Serve on an ephemeral loopback port in a background thread."""
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Recorded(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                reply = api._answer(request)
                if reply.body is None:
                    payload = b""
                elif isinstance(reply.body, bytes):
                    payload = reply.body
                elif isinstance(reply.body, str):
                    payload = reply.body.encode()
                else:
                    payload = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval keeps shutdown (once per test) from adding half a second.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextmanager
def running() -> Iterator[FakeApi]:
    """A started FakeApi, stopped on exit."""
    api = FakeApi()
    api.start()
    try:
        yield api
    finally:
        api.stop()
