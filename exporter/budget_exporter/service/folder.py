"""Where the state folder is and what its files are named: all that reading it needs.

``report`` and ``admit`` read the snapshot a server published with this alone; the folder's
writing, its locks and the cached provider data (which load pandas) are in ``state``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config.schema import Config

METRICS_FILE = "metrics.prom"
METRICS_GZIP_FILE = "metrics.prom.gz"  # the same exposition, compressed once by the leader
OPENMETRICS_FILE = "metrics.om"  # the same snapshot in the OpenMetrics format (and its .gz)
SNAPSHOT_FILE = "snapshot.json"  # the same snapshot for the JSON API
FORECASTS_FILE = "forecasts.json"  # fitted forecast models, so a restart does not fit them again
LOCK_FILE = "refresh.lock"
OWNER_FILE = "owner.lock"  # which config the running servers of this folder serve


def folder_problem(path: Path) -> tuple[str, bool] | None:
    """What keeps ``path`` from being a state directory, and whether it is for good.

    A file where the folder should be is a mistake in the config (True); a folder that is
    read-only or cannot be made yet may be fixed while the server runs (False), which retries.
    """
    if path.exists() and not path.is_dir():
        return f"state directory {path} is not a directory", True
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"state directory {path} cannot be made: {existing} is not a directory", True
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "is not writable" if existing == path else f"cannot be made in {existing}"
        return f"state directory {path} {what}", False
    return None


STATE_DIR_ENV = "BUDGET_EXPORTER_STATE_DIR"


def default_state_dir(config: Config) -> Path:
    """Where state lives when neither the config nor the command line says."""
    if config.state_dir:
        return Path(config.state_dir)
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    tag = hashlib.sha256(str(Path(config.source).resolve()).encode()).hexdigest()[:12]
    return base / "budget-exporter" / tag


def state_folder(state_dir: str | None, config: Config) -> Path:
    """The state folder: ``state_dir``, else ``$BUDGET_EXPORTER_STATE_DIR``, else the default."""
    return Path(state_dir or os.environ.get(STATE_DIR_ENV) or default_state_dir(config))
