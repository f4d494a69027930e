"""The reservations of a state folder: one file, changed under a lock every process honours.

Every grant reads the file, decides and writes it back while holding an exclusive ``flock`` on
a lock file beside it (and a thread lock, for the threads of one worker), so gunicorn workers,
their threads and ``admit --reserve`` from the command line never grant the same room twice.
The file is written atomically; one that cannot be read is an error naming it, never replaced.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import secrets
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..money.admission import Verdict
from ..money.reservations import (
    Grant,
    JobRecord,
    JobSpend,
    Reservation,
    ReservationFileError,
    ReservationRequest,
    TooManyReservations,
    decide,
    record_estimate,
    settle,
)
from ..providers.support.atomic import atomic_write

FOLDER = "reservations"  # its own folder: the refresh leader's clean-up never touches it
FILE = "reservations.json"
LOCK = "lock"
FORMAT = 1
# Active reservations a folder holds at most: the file is read and written on every grant.
MAX_ACTIVE = 10_000
# Job estimates are kept this long (a yearly budget's period and then some), at most this many.
JOB_RETENTION = timedelta(days=400)
MAX_JOBS = 50_000

# One lock per file for the threads of a process; flock orders the processes.
_THREAD_LOCKS: dict[Path, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


@dataclasses.dataclass
class _Book:
    reservations: list[Reservation]
    jobs: dict[tuple[str, str], JobRecord]


class ReservationBook:
    """The reservations file of one state folder."""

    def __init__(self, state_folder: str | Path):
        self.folder = Path(state_folder) / FOLDER
        self.path = self.folder / FILE
        with _THREAD_LOCKS_GUARD:
            self._thread_lock = _THREAD_LOCKS.setdefault(self.path.resolve(), threading.Lock())

    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._thread_lock:
            handle = os.open(self.folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
                yield
            finally:
                os.close(handle)  # closing drops the flock

    def _read(self) -> _Book:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return _Book([], {})
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"not a format {FORMAT} reservations file")
            reservations = [Reservation.from_json(item) for item in data["reservations"]]
            jobs = [JobRecord.from_json(item) for item in data["jobs"]]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ReservationFileError(
                f"reservations file {self.path} cannot be read ({error}); nothing is reserved "
                "or released until it is repaired or removed (removing it drops every "
                "reservation)"
            ) from None
        return _Book(reservations, {(job.budget, job.job): job for job in jobs})

    def _write(self, book: _Book) -> None:
        payload = {
            "format": FORMAT,
            "reservations": [item.as_json() for item in book.reservations],
            "jobs": [item.as_json() for item in book.jobs.values()],
        }
        atomic_write(self.path, json.dumps(payload, indent=1).encode())
        # A writer killed between its temporary file and the rename leaves the temporary file;
        # under the lock no other write is under way, so any left is stale.
        for stale in self.folder.glob(f".{FILE}.*"):
            stale.unlink(missing_ok=True)

    @staticmethod
    def _prune_jobs(jobs: dict[tuple[str, str], JobRecord], now: datetime) -> None:
        for key, job in list(jobs.items()):
            if job.first_reserved_at < now - JOB_RETENTION:
                del jobs[key]
        if len(jobs) > MAX_JOBS:
            newest = sorted(jobs.values(), key=lambda job: job.first_reserved_at)[-MAX_JOBS:]
            jobs.clear()
            jobs.update({(job.budget, job.job): job for job in newest})

    def reserve(
        self,
        budgets: Sequence[dict[str, Any]],
        job_spend: JobSpend,
        name: str,
        request: ReservationRequest,
        now: datetime,
    ) -> Grant:
        """Hold ``request.amount`` against ``name`` if it fits once every active reservation on
        it and on its ancestors is held; the decision and the write happen under the lock."""
        with self._locked(exclusive=True):
            book = self._read()
            active, _ = settle(book.reservations, now, job_spend)
            admission = decide(budgets, name, request.amount, active, job_spend)
            if admission.verdict is Verdict.REJECT:
                if len(active) != len(book.reservations):
                    self._write(_Book(active, book.jobs))
                return Grant(admission, None)
            if len(active) >= MAX_ACTIVE:
                raise TooManyReservations(
                    f"{len(active)} reservations are active in {self.path}, the most there may "
                    "be; release some (DELETE) or wait for them to expire"
                )
            reservation = Reservation(
                id=secrets.token_hex(8),
                budget=name,
                amount=request.amount,
                holder=request.holder,
                created_at=now,
                expires_at=now + request.ttl,
                job=request.job,
            )
            jobs = record_estimate(book.jobs, reservation)
            self._prune_jobs(jobs, now)
            self._write(_Book([*active, reservation], jobs))
            return Grant(admission, reservation)

    def release(self, name: str, reservation_id: str, now: datetime) -> Reservation | None:
        """Release one reservation of ``name``; None if it is not held (any more)."""
        with self._locked(exclusive=True):
            book = self._read()
            found = next(
                (
                    item
                    for item in book.reservations
                    if item.id == reservation_id and item.budget == name
                ),
                None,
            )
            kept = [item for item in book.reservations if item is not found]
            if found is not None or len(kept) != len(book.reservations):
                self._write(_Book(kept, book.jobs))
            return found if found is not None and now < found.expires_at else None

    def settle(self, now: datetime, job_spend: JobSpend) -> list[Reservation]:
        """The active reservations; those that expired or whose job's cost reached their
        amount are dropped from the file (the leader calls this with each snapshot)."""
        with self._locked(exclusive=True):
            book = self._read()
            active, ended = settle(book.reservations, now, job_spend)
            if ended or active != book.reservations:
                self._write(_Book(active, book.jobs))
            return active

    def active(self, now: datetime, job_spend: JobSpend) -> list[Reservation]:
        """The reservations held at ``now``, read without changing the file."""
        if not self.path.exists():
            return []
        with self._locked(exclusive=False):
            book = self._read()
        return settle(book.reservations, now, job_spend)[0]

    def jobs(self, name: str) -> list[JobRecord]:
        """The job estimates recorded on budget ``name``."""
        if not self.path.exists():
            return []
        with self._locked(exclusive=False):
            book = self._read()
        return [job for job in book.jobs.values() if job.budget == name]
