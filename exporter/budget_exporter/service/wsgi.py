"""The WSGI app: serves the latest rendered snapshot; refreshes run in a background thread.

One process at a time (the holder of the state directory's lock) refreshes and evaluates; every
gunicorn worker serves the exposition file it publishes. A scrape reads bytes rendered once per
snapshot and never touches a provider.

Run it with ``budget-exporter serve``, or under your own gunicorn with
``gunicorn 'budget_exporter.app:create_app()'`` and ``BUDGET_EXPORTER_CONFIG`` set.
"""

from __future__ import annotations

import atexit
import dataclasses
import html
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .. import __version__
from ..config.loader import load_config
from ..config.schema import Config
from ..evaluation.snapshot import Snapshot
from ..metrics.exposition import (
    CONTENT_TYPE,
    OPENMETRICS_CONTENT_TYPE,
    render_both,
)
from ..money.reservations import ReservationFileError, held_against
from ..views.api import PREFIX, JsonApi, PublishedSnapshot
from ..views.snapshot_json import render_json
from .folder import OPENMETRICS_FILE, state_folder
from .lifecycle import request_reload
from .refresh import Refresher
from .reservations import ReservationBook
from .state import StateDir, gzip_matches

log = logging.getLogger(__name__)

CONFIG_ENV = "BUDGET_EXPORTER_CONFIG"
FOLLOWER_POLL = timedelta(seconds=5)
# A state directory that cannot be used (read-only, full, not mounted yet) is tried again this
# often; the old exposition stays served meanwhile and /-/ready says why it is not ready.
STATE_RETRY = timedelta(seconds=5)

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class _Exposition:
    signature: tuple[int, int, int]
    plain: bytes
    compressed: bytes | None  # None when no gzip of this very exposition is there (yet)
    openmetrics: bytes | None = None  # None when the leader wrote none (an older version)
    openmetrics_compressed: bytes | None = None


def _weights(header: str) -> dict[str, float]:
    """``a;q=0.5, b`` -> {"a": 0.5, "b": 1.0}: names lower-cased, parameters other than q
    dropped, the highest weight kept when a name comes twice, unreadable weights as 0."""
    weights: dict[str, float] = {}
    for item in header.split(","):
        name, *parameters = (part.strip() for part in item.split(";"))
        if not name:
            continue
        weight = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    weight = 0.0
        name = name.lower()
        weights[name] = max(weight, weights.get(name, 0.0))
    return weights


def accepts_gzip(header: str) -> bool:
    """Whether an ``Accept-Encoding`` header takes gzip (RFC 9110: case-insensitive, q=0 is
    a refusal, ``*`` stands for codings not named)."""
    weights = _weights(header)
    for name in ("gzip", "x-gzip"):
        if name in weights:
            return weights[name] > 0
    return weights.get("*", 0.0) > 0


def prefers_openmetrics(header: str) -> bool:
    """Whether an ``Accept`` header weighs OpenMetrics above the Prometheus text format."""
    weights = _weights(header)
    openmetrics = weights.get("application/openmetrics-text", 0.0)
    text = max(weights.get("text/plain", 0.0), weights.get("text/*", 0.0), weights.get("*/*", 0.0))
    return openmetrics > 0 and openmetrics > text


class PublishedMetrics:
    """The exposition file of the state directory and its gzip, re-read only when they change.

    The leader compresses once per snapshot (see ``StateDir.write_metrics``); a worker only
    reads bytes, and serves the gzip only when its trailer says it is that of the plain file.
    """

    def __init__(self, path: Path):
        self.path = path
        self.gzip_path = path.with_name(path.name + ".gz")
        self.openmetrics_path = path.with_name(OPENMETRICS_FILE)
        self._current: _Exposition | None = None
        self._lock = threading.Lock()

    def get(self) -> _Exposition | None:
        """The latest exposition, or None before the first snapshot."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return self._current
        signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        current = self._current
        if current is not None and current.signature == signature:
            return current
        with self._lock:
            if self._current is None or self._current.signature != signature:
                plain = self.path.read_bytes()
                try:
                    openmetrics: bytes | None = self.openmetrics_path.read_bytes()
                except FileNotFoundError:
                    openmetrics = None
                self._current = _Exposition(
                    signature,
                    plain,
                    _gzip_of(self.gzip_path, plain),
                    openmetrics,
                    _gzip_of(
                        self.openmetrics_path.with_name(OPENMETRICS_FILE + ".gz"), openmetrics
                    ),
                )
            return self._current


def _gzip_of(path: Path, plain: bytes | None) -> bytes | None:
    """The gzip file at ``path`` if it is that of ``plain``."""
    if plain is None:
        return None
    try:
        compressed = path.read_bytes()
    except FileNotFoundError:
        return None
    return compressed if gzip_matches(plain, compressed) else None


class ExporterService:
    """Background refresh loop plus the published exposition."""

    def __init__(self, config: Config, state_dir: Path):
        self.config = config
        self.state = StateDir(state_dir)
        self.published = PublishedMetrics(self.state.metrics_path)
        self.published_snapshot = PublishedSnapshot(self.state.snapshot_path)
        self.reservations = ReservationBook(self.state.path)
        self.refresher: Refresher | None = None
        # Why this process cannot refresh through the state directory; None when it can.
        self.state_problem: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the refresh loop in a daemon thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="refresher", daemon=True)
            self._thread.start()
            # A daemon thread is frozen wherever it is when the interpreter finalizes: in the
            # middle of a state write, that leaves a temporary file and a half-done refresh.
            # Stopping the loop first lets the write in progress finish.
            atexit.register(self.stop)

    def stop(self) -> None:
        """Stop the refresh loop and release the lock."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.state.release()

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException:
            # A leader without a loop would hold the lock forever: let another worker lead.
            log.exception("refresh loop stopped; releasing the refresh lock")
            self.state.release()
            raise

    def _loop(self) -> None:
        next_evaluation = datetime.min.replace(tzinfo=UTC)
        while not self._stop.is_set():
            try:
                leading = self.state.try_lead()
            except OSError as error:
                self._state_unusable(error)
                self._stop.wait(STATE_RETRY.total_seconds())
                continue
            if not leading:
                self._state_usable()
                self._stop.wait(FOLLOWER_POLL.total_seconds())
                continue
            try:
                next_evaluation = self.step(datetime.now(UTC), next_evaluation)
                wake = min([next_evaluation, *self._refresher().next_fetch.values()])
                self._state_usable()
            except Exception as error:  # the loop must survive anything, serving the last data
                if isinstance(error, OSError) and _in_folder(error, self.state.path):
                    self._state_unusable(error)
                    next_evaluation = wake = datetime.now(UTC) + STATE_RETRY
                else:
                    log.exception("refresh loop failed; retrying")
                    next_evaluation = wake = datetime.now(UTC) + timedelta(seconds=30)
            delay = (wake - datetime.now(UTC)).total_seconds()
            self._stop.wait(min(max(delay, 0.5), 60.0))

    def _state_unusable(self, error: OSError) -> None:
        problem = (
            f"state directory {self.state.path} cannot be used: "
            f"{error.strerror or type(error).__name__}"
            + (f" ({error.filename})" if error.filename else "")
        )
        if problem != self.state_problem:
            log.error(
                "%s; serving the last published data, retrying every %ds",
                problem,
                STATE_RETRY.total_seconds(),
            )
        self.state_problem = problem

    def _state_usable(self) -> None:
        if self.state_problem is not None:
            log.info("state directory %s can be used again", self.state.path)
            self.state_problem = None

    def _refresher(self) -> Refresher:
        if self.refresher is None:
            self.refresher = Refresher(self.config, self.state)
        return self.refresher

    def step(self, now: datetime, next_evaluation: datetime) -> datetime:
        """Fetch due providers and publish a new snapshot when due; return the next due time."""
        refresher = self._refresher()
        due = refresher.due(now)
        if due:
            refresher.refresh(now, due)
        if due or now >= next_evaluation or not self.state.metrics_path.exists():
            snapshot = self._with_reservations(refresher.snapshot(now), now)
            # JSON first: once the exposition is there (ready), the API has its data too.
            self.state.write_snapshot(render_json(snapshot))
            self.state.write_metrics(*render_both(snapshot))
            return now + self.config.evaluation_interval
        return next_evaluation

    def _with_reservations(self, snapshot: Snapshot, now: datetime) -> Snapshot:
        """The snapshot with what reservations hold per budget; those the new data released
        (their job's cost reached their amount) or that expired leave the file here."""
        budgets = [
            {"name": entry.status.name, "parent": entry.parent} for entry in snapshot.budgets
        ]
        job_spend = {
            entry.status.name: entry.job_spend for entry in snapshot.budgets if entry.job_spend
        }
        try:
            active = self.reservations.settle(now, job_spend)
        except ReservationFileError as error:
            log.error("%s", error)
            return snapshot
        held = held_against(budgets, active, job_spend)
        return dataclasses.replace(snapshot, reserved=held)


def _in_folder(error: OSError, folder: Path) -> bool:
    """Whether ``error`` is about a file in ``folder`` (a write of the state, say)."""
    return bool(error.filename) and Path(str(error.filename)).is_relative_to(folder)


def _index_page() -> bytes:
    links = "".join(
        f'<li><a href="{path}">{html.escape(path)}</a> {html.escape(text)}</li>'
        for path, text in (
            ("/metrics", "budgets and exporter health"),
            ("/-/healthy", "liveness"),
            ("/-/ready", "ready once a snapshot exists"),
            ("/api/v1/budgets", "budgets as JSON (see /api/v1/openapi.yml)"),
            ("/api/v1/slos", "SLOs as JSON"),
        )
    )
    return (
        "<!doctype html><html><head><title>Budget Exporter</title></head><body>"
        f"<h1>Budget Exporter</h1><p>version {html.escape(__version__)}</p>"
        f"<ul>{links}</ul></body></html>"
    ).encode()


def _none() -> None:
    return None


class MetricsApp:
    """WSGI callable for /metrics, /-/healthy, /-/ready and /."""

    def __init__(
        self,
        published: PublishedMetrics,
        service: ExporterService | None = None,
        reload: Callable[[], tuple[bool, str]] | None = None,
        reservations: bool = False,
    ):
        self.published = published
        self.service = service
        self.reload = reload  # POST /-/reload, when the lifecycle API is enabled
        self._index = _index_page()
        self.api = JsonApi(
            service.published_snapshot.get if service is not None else _none,
            service.reservations if service is not None else None,
            writes=reservations,
            jobs_dimension=service.config.jobs.dimension if service is not None else None,
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        if path == "/-/reload" and self.reload is not None:
            if method not in ("POST", "PUT"):
                return self._reply(
                    start_response,
                    "405 Method Not Allowed",
                    b"use POST to reload\n",
                    extra=[("Allow", "POST, PUT")],
                )
            started, message = self.reload()
            status = "200 OK" if started else "500 Internal Server Error"
            return self._reply(start_response, status, message.encode())
        if path.startswith(PREFIX + "/"):
            return self.api(environ, start_response)
        if method not in ("GET", "HEAD"):
            return self._reply(
                start_response,
                "405 Method Not Allowed",
                b"method not allowed\n",
                extra=[("Allow", "GET, HEAD")],
                head=False,
            )
        head = method == "HEAD"
        if path == "/metrics":
            exposition = self.published.get()
            if exposition is None:
                return self._reply(
                    start_response,
                    "503 Service Unavailable",
                    b"no snapshot yet: the first refresh is running\n",
                    head=head,
                )
            # Both formats and both encodings were made once per snapshot: only bytes here.
            plain, gzipped, content_type = exposition.plain, exposition.compressed, CONTENT_TYPE
            if exposition.openmetrics is not None and prefers_openmetrics(
                environ.get("HTTP_ACCEPT", "")
            ):
                plain, gzipped = exposition.openmetrics, exposition.openmetrics_compressed
                content_type = OPENMETRICS_CONTENT_TYPE
            vary = ("Vary", "Accept, Accept-Encoding")
            if gzipped is not None and accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", "")):
                return self._reply(
                    start_response,
                    "200 OK",
                    gzipped,
                    content_type=content_type,
                    extra=[("Content-Encoding", "gzip"), vary],
                    head=head,
                )
            return self._reply(
                start_response,
                "200 OK",
                plain,
                content_type=content_type,
                extra=[vary],
                head=head,
            )
        if path == "/-/healthy":
            return self._reply(
                start_response, "200 OK", b"Budget Exporter is Healthy.\n", head=head
            )
        if path == "/-/ready":
            problem = self.service.state_problem if self.service is not None else None
            if problem is not None:
                return self._reply(
                    start_response,
                    "503 Service Unavailable",
                    f"Budget Exporter is not ready: {problem}; the last published data is "
                    "served and no refresh runs until it can be used.\n".encode(),
                    head=head,
                )
            if self.published.get() is None:
                return self._reply(
                    start_response,
                    "503 Service Unavailable",
                    b"Budget Exporter is not ready: no snapshot yet.\n",
                    head=head,
                )
            return self._reply(start_response, "200 OK", b"Budget Exporter is Ready.\n", head=head)
        if path == "/":
            return self._reply(
                start_response,
                "200 OK",
                self._index,
                content_type="text/html; charset=utf-8",
                head=head,
            )
        return self._reply(start_response, "404 Not Found", b"not found\n", head=head)

    @staticmethod
    def _reply(
        start_response: StartResponse,
        status: str,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        extra: list[tuple[str, str]] | None = None,
        head: bool = False,
    ) -> Iterable[bytes]:
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        start_response(status, headers + (extra or []))
        return [] if head else [body]


def create_app(
    config_path: str | None = None,
    state_dir: str | None = None,
    *,
    config: Config | None = None,
    lifecycle: bool = False,
    web_config_file: str | None = None,
    reservations: bool = False,
) -> MetricsApp:
    """Build the WSGI app and start its refresh loop.

    Args:
        config_path: config file; default ``$BUDGET_EXPORTER_CONFIG``, else the demo config.
        state_dir: state folder; default ``$BUDGET_EXPORTER_STATE_DIR``, the config's
            ``state_dir``, else a folder under ``$XDG_STATE_HOME``.
        config: an already validated config, used instead of reading ``config_path``.
        lifecycle: serve ``POST /-/reload`` (re-read the config file and restart workers).
        web_config_file: the web config file that ``POST /-/reload`` validates too.
        reservations: take and release reservations (``POST`` and ``DELETE`` under
            ``/api/v1/budgets/NAME/reservations``); reading them is always on.
    """
    if config is None:
        config = load_config(config_path or os.environ.get(CONFIG_ENV) or None)
    service = ExporterService(config, state_folder(state_dir, config))
    # Refuses (StateDirTaken) a folder that a server with another config is using.
    service.state.claim(config.source)
    service.start()
    reload = None
    if lifecycle:
        source = config.source

        def reload() -> tuple[bool, str]:
            return request_reload(source, web_config_file)

    return MetricsApp(service.published, service, reload, reservations)
