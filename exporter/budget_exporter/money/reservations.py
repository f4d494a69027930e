"""Reservations of planned spend, and how jobs spent against what they reserved.

Two launchers asking at the same moment would both hear "fits" for amounts that together do not
fit; a reservation holds its amount against the budget (and every ancestor) until it expires,
is released, or the job's cost shows up in the data. Pure: requests, reservations, the budgets'
JSON views and the job spend in; decisions and figures out. The file and its lock are the
service's (``service/reservations.py``).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..model.periods import parse_duration
from .admission import CENT, Admission, admit_in_hierarchy

DEFAULT_TTL = timedelta(hours=1)
MIN_TTL = timedelta(seconds=1)
MAX_TTL = timedelta(days=31)
MAX_TEXT = 200  # holder and job: names, not documents
MAX_AMOUNT = 1e15  # far above any budget; keeps sums exact to the cent
FIELDS = frozenset({"amount", "holder", "ttl", "job"})
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]+$")

# Job spend per budget and job value, as the snapshot's JSON view carries it.
JobSpend = Mapping[str, Mapping[str, float]]


class RequestError(ValueError):
    """A reservation request that cannot be taken; the message names the field and the fix."""


class ReservationFileError(Exception):
    """The reservations file cannot be read; nothing is granted until it is fixed."""


class TooManyReservations(Exception):
    """The state folder holds the most active reservations it may."""


@dataclass(frozen=True)
class ReservationRequest:
    """A validated request to hold ``amount`` against a budget for ``ttl``."""

    amount: float
    holder: str
    ttl: timedelta = DEFAULT_TTL
    job: str | None = None


def _text(body: Mapping[str, Any], key: str, required: bool) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise RequestError(f"{key} must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise RequestError(f"{key} is {len(value)} characters long; at most {MAX_TEXT}")
    if not _PRINTABLE.match(value):
        raise RequestError(f"{key} must not hold control characters")
    return value


def parse_ttl(value: Any) -> timedelta:
    """A TTL as seconds (a number) or a duration (``90s``, ``2h``), within its bounds."""
    if isinstance(value, bool):
        raise RequestError("ttl must be a number of seconds or a duration such as 2h")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise RequestError("ttl must be a finite number of seconds")
        ttl = timedelta(seconds=float(value)) if abs(value) < 1e12 else MAX_TTL * 2
    elif isinstance(value, str):
        try:
            ttl = parse_duration(value)
        except ValueError as error:
            raise RequestError(f"ttl: {error}") from None
    else:
        raise RequestError("ttl must be a number of seconds or a duration such as 2h")
    if not MIN_TTL <= ttl <= MAX_TTL:
        raise RequestError(f"ttl must be between 1s and 31d (2678400 seconds), not {value}")
    return ttl


def parse_request(body: Any, jobs_dimension: str | None) -> ReservationRequest:
    """A reservation request from a decoded JSON body; RequestError says what is wrong."""
    if not isinstance(body, dict):
        raise RequestError('the body must be a JSON object such as {"amount": 8, "holder": "ci"}')
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise RequestError(
            f"unknown field(s) {', '.join(unknown)}; fields: {', '.join(sorted(FIELDS))}"
        )
    amount = body.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise RequestError("amount must be a number greater than 0, such as 8.00")
    if not (math.isfinite(amount) and 0 < amount <= MAX_AMOUNT):
        raise RequestError(f"amount must be greater than 0 and finite (at most 1e15), not {amount}")
    holder = _text(body, "holder", required=True)
    job = _text(body, "job", required=False)
    if job is not None and not jobs_dimension:
        raise RequestError(
            "job given, but the config sets no jobs.dimension: the job's cost could not be "
            "matched in the data"
        )
    ttl = parse_ttl(body["ttl"]) if body.get("ttl") is not None else DEFAULT_TTL
    assert holder is not None
    return ReservationRequest(float(amount), holder, ttl, job)


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Reservation:
    """Money held against a budget until ``expires_at``; ``job`` releases it by tag."""

    id: str
    budget: str
    amount: float
    holder: str
    created_at: datetime
    expires_at: datetime
    job: str | None = None
    # The most of the job's cost seen in the data so far: the hold shrinks by it, and a new
    # period (whose data lacks the old period's cost) does not grow it back.
    seen: float = 0.0

    def job_cost(self, job_spend: JobSpend) -> float:
        """The job's cost in the data for this reservation's budget, at least what was seen."""
        if self.job is None:
            return 0.0
        return max(self.seen, float(job_spend.get(self.budget, {}).get(self.job, 0.0)))

    def outstanding(self, job_spend: JobSpend) -> float:
        """What the reservation still holds: its amount less the job's cost already in the data."""
        return max(self.amount - self.job_cost(job_spend), 0.0)

    def active(self, now: datetime, job_spend: JobSpend) -> bool:
        """Held at ``now``: not expired, and the job's cost has not reached the amount yet."""
        return now < self.expires_at and self.outstanding(job_spend) > CENT

    def as_json(self, job_spend: JobSpend | None = None) -> dict[str, Any]:
        """The reservation as the API returns it and the state file keeps it."""
        out: dict[str, Any] = {
            "id": self.id,
            "budget": self.budget,
            "amount": self.amount,
            "holder": self.holder,
            "job": self.job,
            "created_at": _time(self.created_at),
            "expires_at": _time(self.expires_at),
            "seen": self.seen,
        }
        if job_spend is not None:
            out["outstanding"] = self.outstanding(job_spend)
        return out

    @staticmethod
    def from_json(item: Mapping[str, Any]) -> Reservation:
        """The reservation the state file keeps; KeyError, TypeError or ValueError if damaged."""
        created = datetime.fromisoformat(str(item["created_at"]).replace("Z", "+00:00"))
        expires = datetime.fromisoformat(str(item["expires_at"]).replace("Z", "+00:00"))
        if created.tzinfo is None or expires.tzinfo is None:
            raise ValueError("reservation times need a UTC offset")
        amount = float(item["amount"])
        if not math.isfinite(amount) or amount <= 0:
            raise ValueError(f"reservation amount {amount} is not positive")
        job = item.get("job")
        return Reservation(
            id=str(item["id"]),
            budget=str(item["budget"]),
            amount=amount,
            holder=str(item["holder"]),
            created_at=created,
            expires_at=expires,
            job=str(job) if job is not None else None,
            seen=float(item.get("seen", 0.0)),
        )


@dataclass(frozen=True)
class Grant:
    """The answer to a reservation request: the admission, and the reservation if granted."""

    admission: Admission
    reservation: Reservation | None

    @property
    def granted(self) -> bool:
        """Whether the amount is now held."""
        return self.reservation is not None


def settle(
    reservations: Iterable[Reservation], now: datetime, job_spend: JobSpend
) -> tuple[list[Reservation], list[Reservation]]:
    """The reservations still held at ``now`` (with the job cost seen updated), and those that
    ended: expired, or their job's cost in the data reached their amount."""
    kept: list[Reservation] = []
    ended: list[Reservation] = []
    for item in reservations:
        cost = item.job_cost(job_spend)
        if cost > item.seen:
            item = dataclasses.replace(item, seen=cost)
        (kept if item.active(now, job_spend) else ended).append(item)
    return kept, ended


def ancestry(budgets: Sequence[Mapping[str, Any]], name: str) -> list[str]:
    """``name`` and each budget it counts against, nearest first (JSON views' ``parent``)."""
    parents = {item["name"]: item.get("parent") or "" for item in budgets}
    chain = [name]
    while parents.get(chain[-1]) and parents[chain[-1]] not in chain:
        chain.append(parents[chain[-1]])
    return chain


def held_against(
    budgets: Sequence[Mapping[str, Any]],
    reservations: Iterable[Reservation],
    job_spend: JobSpend,
) -> dict[str, float]:
    """Money held per budget: its own reservations and those of every budget below it."""
    held: dict[str, float] = {}
    for item in reservations:
        amount = item.outstanding(job_spend)
        for name in ancestry(budgets, item.budget):
            held[name] = held.get(name, 0.0) + amount
    return held


def decide(
    budgets: Sequence[dict[str, Any]],
    name: str,
    amount: float,
    reservations: Iterable[Reservation],
    job_spend: JobSpend,
) -> Admission:
    """Whether ``amount`` fits ``name`` and every ancestor once active reservations are held.

    Granted unless the verdict is ``reject``; a ``forecast_overrun`` is granted (it fits what
    remains) and says so.
    """
    return admit_in_hierarchy(budgets, name, amount, held_against(budgets, reservations, job_spend))


@dataclass(frozen=True)
class JobRecord:
    """What a job reserved: the estimate it was admitted with."""

    budget: str
    job: str
    estimate: float
    first_reserved_at: datetime
    holder: str

    def as_json(self) -> dict[str, Any]:
        """As the state file keeps it."""
        return {
            "budget": self.budget,
            "job": self.job,
            "estimate": self.estimate,
            "first_reserved_at": _time(self.first_reserved_at),
            "holder": self.holder,
        }

    @staticmethod
    def from_json(item: Mapping[str, Any]) -> JobRecord:
        """As the state file keeps it; KeyError, TypeError or ValueError if damaged."""
        moment = datetime.fromisoformat(str(item["first_reserved_at"]).replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError("job times need a UTC offset")
        return JobRecord(
            str(item["budget"]),
            str(item["job"]),
            float(item["estimate"]),
            moment,
            str(item["holder"]),
        )


def record_estimate(
    jobs: Mapping[tuple[str, str], JobRecord], reservation: Reservation
) -> dict[tuple[str, str], JobRecord]:
    """The job records with ``reservation`` added: a job's estimate is the sum of what it
    reserved on the budget."""
    out = dict(jobs)
    if reservation.job is None:
        return out
    key = (reservation.budget, reservation.job)
    old = out.get(key)
    out[key] = JobRecord(
        reservation.budget,
        reservation.job,
        reservation.amount + (old.estimate if old else 0.0),
        old.first_reserved_at if old else reservation.created_at,
        old.holder if old else reservation.holder,
    )
    return out


def job_accounting(
    records: Iterable[JobRecord], actual: Mapping[str, float], since: datetime
) -> dict[str, Any]:
    """Per job reserved on one budget since ``since`` (the period start): its estimate, its
    actual cost in the data, and the share of jobs whose cost went over their estimate."""
    jobs = []
    for record in sorted(records, key=lambda item: (item.first_reserved_at, item.job)):
        if record.first_reserved_at < since:
            continue
        cost = float(actual.get(record.job, 0.0))
        jobs.append(
            {
                "job": record.job,
                "holder": record.holder,
                "reserved_at": _time(record.first_reserved_at),
                "estimate": record.estimate,
                "actual": cost,
                "over_estimate": cost > record.estimate + CENT,
                "difference": cost - record.estimate,
            }
        )
    over = sum(1 for item in jobs if item["over_estimate"])
    return {
        "jobs": jobs,
        "count": len(jobs),
        "over_estimate": over,
        "over_estimate_share": over / len(jobs) if jobs else None,
    }
