"""The state directory: last good provider data and the rendered exposition, written atomically.

A restart serves the last exposition at once and reuses cached provider data instead of calling
paid APIs again; gunicorn workers share one refresher through a lock file in the same folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import gzip
import hashlib
import io
import json
import logging
import os
import re
import time
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ..model.bad_rows import BadRow, BadRows
from ..model.costs import CostData
from ..model.moments import moment_of, moment_text
from ..providers.support.atomic import atomic_write
from .folder import (
    FORECASTS_FILE,
    LOCK_FILE,
    METRICS_FILE,
    METRICS_GZIP_FILE,
    OPENMETRICS_FILE,
    OWNER_FILE,
    SNAPSHOT_FILE,
)

log = logging.getLogger(__name__)

CLAIM_WAIT = 5.0
# The temporary file of an atomic write: a dot, the file's name, a dot and mkstemp's eight
# random characters. Nothing else is ever removed as stale.
TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}")


class StateDirTaken(Exception):
    """The state directory is in use by a running server with another config."""


def gzip_matches(plain: bytes, compressed: bytes) -> bool:
    """Whether ``compressed`` is the gzip of ``plain``, read from its trailer (CRC-32 and size).

    Cheap enough for a reader to pair the two files without decompressing.
    """
    if len(compressed) < 18 or compressed[:2] != b"\x1f\x8b":  # a gzip header and trailer
        return False
    crc, size = compressed[-8:-4], compressed[-4:]
    return (
        int.from_bytes(crc, "little") == zlib.crc32(plain)
        and int.from_bytes(size, "little") == len(plain) % 2**32
    )


def _parse_time(value: str | None) -> datetime | None:
    moment = moment_of(value)
    return moment.to_pydatetime() if moment is not None else None


class StateDir:
    """Files under one folder; each write is atomic."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        # A folder that cannot be made yet (read-only, not mounted) is tried again by try_lead.
        with contextlib.suppress(OSError):
            self.path.mkdir(parents=True, exist_ok=True)
        self._lock_handle: int | None = None
        self._owner_handle: int | None = None

    @property
    def metrics_path(self) -> Path:
        """Where the latest rendered exposition lives."""
        return self.path / METRICS_FILE

    @property
    def metrics_gzip_path(self) -> Path:
        """Where the gzip of the latest exposition lives."""
        return self.path / METRICS_GZIP_FILE

    @property
    def openmetrics_path(self) -> Path:
        """Where the latest exposition in the OpenMetrics format lives."""
        return self.path / OPENMETRICS_FILE

    def write_metrics(self, payload: bytes, openmetrics: bytes | None = None) -> None:
        """Publish a new exposition, and its gzip, for every worker to serve as they are.

        The gzip is written first, so a reader that sees the new plain file finds its gzip
        already there; ``gzip_matches`` tells a reader which plain file a gzip belongs to. The
        OpenMetrics form (and its gzip) comes before both, for the same reason: the plain text
        file is what tells readers that a new snapshot is there.
        """
        if openmetrics is not None:
            om_gzip = self.openmetrics_path.with_name(OPENMETRICS_FILE + ".gz")
            atomic_write(om_gzip, gzip.compress(openmetrics, 6, mtime=0))
            atomic_write(self.openmetrics_path, openmetrics)
        atomic_write(self.metrics_gzip_path, gzip.compress(payload, 6, mtime=0))
        atomic_write(self.metrics_path, payload)

    @property
    def snapshot_path(self) -> Path:
        """Where the latest snapshot as JSON lives."""
        return self.path / SNAPSHOT_FILE

    def write_snapshot(self, payload: bytes) -> None:
        """Publish the JSON view of a new snapshot for every worker's API."""
        atomic_write(self.snapshot_path, payload)

    @property
    def forecasts_path(self) -> Path:
        """Where the fitted forecast models live."""
        return self.path / FORECASTS_FILE

    def save_forecasts(self, payload: bytes) -> None:
        """Keep the fitted forecast models (``ForecastCache.export``) for the next start."""
        atomic_write(self.forecasts_path, payload)

    def load_forecasts(self) -> bytes | None:
        """The kept forecast models, or None when there are none or they cannot be read."""
        try:
            return self.forecasts_path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            log.warning("ignoring kept forecast models: %s", error)
            return None

    def save_provider(
        self, name: str, fingerprint: str, data: CostData, meta: dict[str, Any]
    ) -> str:
        """Persist a provider's last good data; the frame first, then the record pointing at it.

        Each frame file is named after its content, so a kill between the two writes leaves the
        old record pointing at the old frame, which is still there: never a mixed pair. Returns
        the SHA-256 of the frame's file, as ``load_provider``'s record gives it (``frame_sha256``):
        what tells one frame from another without comparing them.
        """
        folder = self.path / "providers"
        folder.mkdir(parents=True, exist_ok=True)
        buffer = data.frame.to_parquet(index=False)
        digest = hashlib.sha256(buffer).hexdigest()
        frame_name = f"{name}.{digest[:16]}.parquet"
        atomic_write(folder / frame_name, buffer)
        record = {
            "fingerprint": fingerprint,
            "frame": frame_name,
            "data_end": moment_text(data.data_end),
            "settled_through": moment_text(data.settled_through),
            "bad_rows": data.bad_rows.count,
            "bad_row_examples": [
                [row.source, row.line, row.reason] for row in data.bad_rows.examples
            ],
            "sources": data.sources,
            **meta,
        }
        atomic_write(folder / f"{name}.json", json.dumps(record, indent=1).encode())
        own = re.compile(rf"{re.escape(name)}(\.[0-9a-f]{{16}})?\.parquet")
        for old in folder.glob(f"{glob.escape(name)}.*parquet"):
            if old.name != frame_name and own.fullmatch(old.name):
                old.unlink(missing_ok=True)
        return digest

    def load_provider(self, name: str, fingerprint: str) -> tuple[CostData, dict[str, Any]] | None:
        """The persisted data of a provider, if it was saved with the same provider config, and
        its record (with ``frame_sha256``, the SHA-256 of the frame's file as read)."""
        folder = self.path / "providers"
        try:
            record = json.loads((folder / f"{name}.json").read_text())
            if record.get("fingerprint") != fingerprint:
                return None
            payload = (folder / Path(record.get("frame", f"{name}.parquet")).name).read_bytes()
            frame = pd.read_parquet(io.BytesIO(payload))
            # Of the bytes read, not of a name: a damaged file has its own.
            record["frame_sha256"] = hashlib.sha256(payload).hexdigest()
            # Valid JSON of the wrong shape is as damaged as a torn file: check all of it here.
            bad = BadRows(
                int(record.get("bad_rows", 0)),
                tuple(
                    BadRow(str(s), int(n), str(r)) for s, n, r in record.get("bad_row_examples", [])
                ),
            )
            data = CostData(
                frame=frame,
                data_end=_parse_time(record.get("data_end")),
                bad_rows=bad,
                settled_through=_parse_time(record.get("settled_through")),
                sources=int(record.get("sources", 0)),
            )
        except FileNotFoundError:
            return None
        except Exception as error:  # a damaged cache is dropped, never trusted
            log.warning("ignoring unreadable cached data of provider %s: %s", name, error)
            return None
        return data, record

    def try_lead(self) -> bool:
        """Take the refresh lock without waiting; True if this process now holds it.

        The lock is released by the kernel when the process dies, so another worker takes over.
        """
        if self._lock_handle is not None:
            return True
        self.path.mkdir(parents=True, exist_ok=True)
        handle = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(handle)
            return False
        self._lock_handle = handle
        self._remove_stale_temporaries()
        return True

    def claim(self, config_source: str) -> None:
        """Mark this folder as served with ``config_source`` for as long as this process runs.

        Servers with the same config may share a folder (one of them refreshes); a server with
        another config would serve the first one's budgets, so it is refused: StateDirTaken
        names both configs. The mark is a shared ``flock`` that the kernel drops when the last
        process holding it ends, so a server that died leaves no claim behind. A folder that
        cannot be opened is not claimed (try_lead retries it and readiness tells).
        """
        if self._owner_handle is not None:
            return
        mine = str(Path(config_source).resolve())
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            handle = os.open(self.path / OWNER_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            log.warning("cannot mark %s as used by %s: %s", self.path, mine, error.strerror)
            return
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # No server runs on this folder: the config served here from now on is ours.
            payload = json.dumps({"config": mine, "pid": os.getpid()}).encode()
            os.ftruncate(handle, 0)
            os.pwrite(handle, payload, 0)
        except BlockingIOError:
            pass
        except OSError as error:
            os.close(handle)
            log.warning("cannot mark %s as used by %s: %s", self.path, mine, error.strerror)
            return
        deadline = time.monotonic() + CLAIM_WAIT
        while True:  # shared from here on; waits while another server writes its mark
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(handle)
                    raise StateDirTaken(f"state directory {self.path} is busy") from None
                time.sleep(0.05)
        try:
            owner = json.loads(os.pread(handle, 4096, 0) or b"{}")
        except ValueError:
            owner = {}
        theirs = owner.get("config") if isinstance(owner, dict) else None
        if theirs is not None and theirs != mine:
            os.close(handle)
            raise StateDirTaken(
                f"state directory {self.path} is in use by a running exporter "
                f"(pid {owner.get('pid')}) serving config {theirs}; this one serves {mine}: "
                "give each config its own --state.dir (or state_dir)"
            )
        self._owner_handle = handle

    def _remove_stale_temporaries(self) -> None:
        # A process killed mid-write leaves its temporary file; only the lock holder writes
        # these folders, so once this process holds the lock, any temporary file left is stale.
        # The providers' kept groups have a folder each under cache/files.
        cache = self.path / "cache"
        folders = [self.path, self.path / "providers", cache]
        with contextlib.suppress(OSError):
            folders += sorted(p for p in (cache / "files").iterdir() if p.is_dir())
        for folder in folders:
            for stale in folder.glob(".*"):
                if TEMPORARY.fullmatch(stale.name) and stale.is_file():
                    log.info("removing %s, left by a write that was interrupted", stale)
                    stale.unlink(missing_ok=True)

    def release(self) -> None:
        """Give up the refresh lock."""
        if self._lock_handle is not None:
            os.close(self._lock_handle)
            self._lock_handle = None
