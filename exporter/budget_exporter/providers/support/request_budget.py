"""Counting paid API requests against a monthly budget, persisted so restarts do not reset it.

A refresh round (all pages of one query) starts only when the requests left this UTC month
cover it, and rounds are spread over the month so the budget lasts until its end: with
``left`` requests and rounds of ``n`` pages, rounds are at least
``time to month end / (left // n)`` apart.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ...model.errors import ProviderError
from .atomic import atomic_write

log = logging.getLogger(__name__)

# First wait after a failed round; it doubles with each failure in a row, up to min_interval.
FAILURE_BACKOFF = timedelta(minutes=5)


class BudgetExhausted(ProviderError):
    """The monthly request budget does not allow another request."""


def month_of(moment: datetime) -> str:
    """The UTC calendar month of a moment, as ``YYYY-MM``."""
    return moment.astimezone(UTC).strftime("%Y-%m")


def month_end(moment: datetime) -> datetime:
    """Start of the next UTC month."""
    utc = moment.astimezone(UTC)
    if utc.month == 12:
        return datetime(utc.year + 1, 1, 1, tzinfo=UTC)
    return datetime(utc.year, utc.month + 1, 1, tzinfo=UTC)


@dataclass
class RequestLedger:
    """Requests made by one provider: in all, this month, and when the last round started."""

    month: str = ""
    month_requests: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    last_round: datetime | None = None
    last_round_requests: int = 0
    failures: int = 0
    marks: dict[str, datetime] = field(default_factory=dict)

    def roll(self, now: datetime) -> None:
        """Start counting afresh when a new UTC month begins."""
        current = month_of(now)
        if current != self.month:
            self.month = current
            self.month_requests = 0

    @property
    def total(self) -> int:
        """Requests made since the ledger was created."""
        return sum(self.requests.values())

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready record."""
        return {
            "month": self.month,
            "month_requests": self.month_requests,
            "requests": self.requests,
            "last_round": self.last_round.isoformat() if self.last_round else None,
            "last_round_requests": self.last_round_requests,
            "failures": self.failures,
            "marks": {key: value.isoformat() for key, value in self.marks.items()},
        }

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> RequestLedger:
        """Rebuild a ledger from ``to_json`` output."""
        last = record.get("last_round")
        return cls(
            month=str(record.get("month", "")),
            month_requests=int(record.get("month_requests", 0)),
            requests={str(k): int(v) for k, v in dict(record.get("requests", {})).items()},
            last_round=datetime.fromisoformat(last) if last else None,
            last_round_requests=int(record.get("last_round_requests", 0)),
            failures=int(record.get("failures", 0)),
            marks={
                str(k): datetime.fromisoformat(v) for k, v in dict(record.get("marks", {})).items()
            },
        )


@dataclass(frozen=True)
class Wait:
    """How long until the next round may start (zero: now), why, and whether the budget is spent."""

    delay: timedelta
    reason: str = ""
    exhausted: bool = False


def round_wait(
    ledger: RequestLedger,
    now: datetime,
    min_interval: timedelta,
    monthly_budget: int,
    has_data: bool = True,
) -> Wait:
    """When the next round may start; a round is expected to need as many requests as the last.

    Without data (first run, changed query) only the budget and failure backoff hold it back.
    """
    needed = max(1, ledger.last_round_requests)
    left = monthly_budget - (ledger.month_requests if ledger.month == month_of(now) else 0)
    if left < needed:
        return Wait(
            month_end(now) - now,
            f"the monthly request budget ({monthly_budget}) is used up until "
            f"{month_end(now).date().isoformat()}: raise monthly_request_budget",
            exhausted=True,
        )
    failed_at = ledger.marks.get("failure")
    if ledger.failures and failed_at is not None:
        backoff = min(min_interval, FAILURE_BACKOFF * 2 ** min(ledger.failures - 1, 20))
        if now - failed_at < backoff:
            return Wait(
                backoff - (now - failed_at), f"backing off after {ledger.failures} failed rounds"
            )
    if ledger.last_round is None or not has_data:
        return Wait(timedelta(0))
    elapsed = now - ledger.last_round
    spacing = max(min_interval, (month_end(now) - now) / (left // needed))
    if elapsed >= spacing:
        return Wait(timedelta(0))
    reason = "min_interval" if spacing == min_interval else "spreading the monthly request budget"
    return Wait(spacing - elapsed, reason)


class LedgerFile:
    """A ledger kept in a JSON file (or in memory when there is no folder)."""

    def __init__(self, path: Path | None, provider: str):
        self.path = path
        self.provider = provider
        self.ledger = self._load()

    def _load(self) -> RequestLedger:
        if self.path is None or not self.path.exists():
            return RequestLedger()
        try:
            return RequestLedger.from_json(json.loads(self.path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, AttributeError) as error:
            # Losing the count could overspend the budget, so refuse rather than start at zero.
            raise ProviderError(
                f"provider {self.provider}: request ledger {self.path} is unreadable ({error}): "
                "fix or delete it (deleting resets this month's request count)"
            ) from None

    def save(self) -> None:
        """Write the ledger atomically."""
        if self.path is not None:
            atomic_write(self.path, json.dumps(self.ledger.to_json(), indent=1).encode())

    def charge(self, operation: str, now: datetime, monthly_budget: int) -> None:
        """Record one request about to be sent; refuse it when the month's budget is spent."""
        ledger = self.ledger
        ledger.roll(now)
        if ledger.month_requests >= monthly_budget:
            raise BudgetExhausted(
                f"provider {self.provider}: the monthly request budget ({monthly_budget}) is "
                f"used up until {month_end(now).date().isoformat()}: raise monthly_request_budget"
            )
        ledger.month_requests += 1
        ledger.requests[operation] = ledger.requests.get(operation, 0) + 1
        # Saved before the request goes out, so a crash never loses a paid request.
        self.save()
