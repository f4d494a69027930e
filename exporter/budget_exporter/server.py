"""gunicorn embedded through its application API, so one command starts the production server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication


def gunicorn_settings(bind: str, workers: int, log_level: str) -> dict[str, Any]:
    """The settings the exporter ships with.

    Threaded workers let a slow scrape never block another; every worker serves the same
    published exposition, so more workers add no provider calls.
    """
    return {
        "bind": bind,
        "workers": max(1, workers),
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 60,
        "graceful_timeout": 10,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": log_level,
        "proc_name": "budget-exporter",
    }


class GunicornServer(BaseApplication):
    """Runs the WSGI app that ``factory`` builds, in each worker, with ``settings``."""

    def __init__(self, factory: Callable[[], Any], settings: dict[str, Any]):
        self._factory = factory
        self._settings = settings
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._settings.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._factory()
