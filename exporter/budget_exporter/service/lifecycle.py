"""Config reload, the Prometheus way: on SIGHUP, or on ``POST /-/reload`` when enabled.

gunicorn's master process handles SIGHUP by starting new workers and retiring the old ones.
Before it does, the master reads the config file again: a valid file becomes the config every
new worker starts with (the refresher included, since the leader is replaced too); an invalid
one is rejected with its problems logged, and the new workers keep the config that ran before.
Workers never read the config file themselves, so a bad edit cannot stop a worker from starting.
The web config file (TLS, basic auth) is read again the same way, on its own: a bad web config
is rejected and logged while the one in force stays, whatever happens to the main config.
"""

from __future__ import annotations

import logging
import os
import signal

from ..config.loader import load_config
from ..config.schema import Config
from ..model.errors import ConfigError
from .webconfig import load_web_config, log_web_config_rejected

log = logging.getLogger(__name__)


class ConfigHolder:
    """The last good config of the master process, replaced only by a valid file."""

    def __init__(self, config: Config):
        self.config = config
        self.reloads = 0
        self.failures = 0

    def reload(self) -> bool:
        """Read the config file again; keep the current config when the new one is invalid."""
        try:
            config = load_config(self.config.source)
        except ConfigError as error:
            self.failures += 1
            log_rejected(error)
            return False
        self.config = config
        self.reloads += 1
        log.info(
            "config reloaded from %s: %d provider(s), %d budget(s)",
            config.source,
            len(config.providers),
            len(config.budgets),
        )
        return True


def log_rejected(error: ConfigError) -> None:
    """Log each problem of a rejected config and that the running one stays."""
    log.error(
        "config reload rejected: %d problem(s); the running config stays", len(error.problems)
    )
    for problem in error.problems:
        log.error("  %s", problem)


def request_reload(config_path: str, web_config_path: str | None = None) -> tuple[bool, str]:
    """From a worker: validate the config (and web config) file, then ask the master (SIGHUP)
    to reload them.

    Returns whether the reload was started and a message for the HTTP answer.
    """
    try:
        load_config(config_path)
    except ConfigError as error:
        log_rejected(error)
        return False, f"config reload rejected, the running config stays:\n{error}\n"
    if web_config_path is not None:
        try:
            load_web_config(web_config_path)
        except ConfigError as error:
            log_web_config_rejected(error)
            return False, (f"web config reload rejected, the running web config stays:\n{error}\n")
    os.kill(os.getppid(), signal.SIGHUP)
    return True, "reloading: new workers start with the new config\n"
