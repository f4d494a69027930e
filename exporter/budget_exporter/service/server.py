"""gunicorn embedded through its application API, so one command starts the production server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from .worker import head_first_worker

DEFAULT_READ_HEADER_TIMEOUT = 10.0
DEFAULT_WRITE_TIMEOUT = 60.0


def gunicorn_settings(
    bind: str,
    workers: int,
    log_level: str,
    read_header_timeout: float = DEFAULT_READ_HEADER_TIMEOUT,
    write_timeout: float = DEFAULT_WRITE_TIMEOUT,
) -> dict[str, Any]:
    """The settings the exporter ships with.

    Threaded workers let a slow scrape never block another; every worker serves the same
    published exposition, so more workers add no provider calls. Request heads are read by
    each worker's event loop (``service/worker.py``), and answers the kernel has not taken
    within 50 ms are written there too, so slow clients hold no thread; a client that does not
    read its answer within ``write_timeout`` is cut off.
    """
    return {
        "bind": bind,
        "workers": max(1, workers),
        "worker_class": head_first_worker(read_header_timeout, write_timeout),
        "threads": 4,
        "timeout": 60,
        # gunicorn's default of 2 s closes kept-alive connections while a busy scraper is still
        # reading the last answer; its next request then meets a closed socket.
        "keepalive": 30,
        "graceful_timeout": 10,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": log_level,
        "proc_name": "budget-exporter",
    }


class GunicornServer(BaseApplication):
    """Runs the WSGI app that ``factory`` builds, in each worker, with ``settings``."""

    def __init__(
        self,
        factory: Callable[[], Any],
        settings: dict[str, Any],
        before_reload: Callable[[], dict[str, Any] | None] | None = None,
    ):
        self._factory = factory
        self._settings = settings
        self._before_reload = before_reload
        super().__init__()

    def reload(self) -> None:
        """On SIGHUP, in the master: ``before_reload`` runs before new workers start.

        The settings it returns (TLS files of a reloaded web config) replace those given.
        """
        if self._before_reload is not None:
            self._settings.update(self._before_reload() or {})
        super().reload()

    def load_config(self) -> None:
        for key, value in self._settings.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._factory()
