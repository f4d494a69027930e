"""Pacing paid API rounds so the monthly request budget lasts the whole UTC month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from budget_exporter.model.errors import ProviderError
from budget_exporter.providers.support.request_budget import LedgerFile, RequestLedger, round_wait

NOW = datetime(2026, 3, 21, tzinfo=UTC)  # eleven days before April


def ledger(
    used: int,
    last_hours_ago: float | None,
    pages: int = 1,
    month: str = "2026-03",
    failures: int = 0,
    failed_minutes_ago: float = 0,
) -> RequestLedger:
    last = None if last_hours_ago is None else NOW - timedelta(hours=last_hours_ago)
    marks = {"failure": NOW - timedelta(minutes=failed_minutes_ago)} if failures else {}
    return RequestLedger(month, used, {}, last, pages, failures, marks)


@pytest.mark.parametrize(
    ("state", "delay_hours", "exhausted"),
    [
        # A first round may always start while the budget lasts.
        (ledger(0, None), 0, False),
        # Plenty left: the minimum interval (4h) alone spaces rounds.
        (ledger(10, 5), 0, False),
        (ledger(10, 3), 1, False),
        # 11 requests left for 11 days: one round a day.
        (ledger(89, 20), 4, False),
        # Rounds of 2 pages with 22 left: still one round a day.
        (ledger(78, 24, pages=2), 0, False),
        # Fewer requests left than a round needs: wait for April.
        (ledger(99, 48, pages=2), 11 * 24, True),
        (ledger(100, 48), 11 * 24, True),
        # Last month's count does not hold this month back.
        (ledger(100, 48, month="2026-02"), 0, False),
        # Failed rounds in a row back off 5, 10, 20... minutes, never beyond min_interval.
        (ledger(10, 5, failures=1, failed_minutes_ago=2), 0.05, False),
        (ledger(10, 5, failures=1, failed_minutes_ago=5), 0, False),
        (ledger(10, 5, failures=3, failed_minutes_ago=5), 0.25, False),
        (ledger(10, 5, failures=9, failed_minutes_ago=60), 3, False),
    ],
)
def test_rounds_wait_for_the_interval_and_spread_the_budget_over_the_month(
    state, delay_hours, exhausted
):
    wait = round_wait(state, NOW, timedelta(hours=4), monthly_budget=100)
    assert wait.delay == timedelta(hours=delay_hours)
    assert wait.exhausted is exhausted
    assert bool(wait.reason) is (delay_hours > 0)


def test_without_data_only_the_budget_and_failures_hold_a_round_back():
    recent = ledger(10, 1)
    assert round_wait(recent, NOW, timedelta(hours=4), 100).delay == timedelta(hours=3)
    assert round_wait(recent, NOW, timedelta(hours=4), 100, has_data=False).delay == timedelta(0)
    spent = ledger(100, 1)
    assert round_wait(spent, NOW, timedelta(hours=4), 100, has_data=False).exhausted


def test_the_ledger_refuses_the_request_beyond_the_budget_and_keeps_the_count(tmp_path):
    path = tmp_path / "ledger.json"
    first = LedgerFile(path, "aws")
    first.charge("GetCostAndUsage", NOW, monthly_budget=2)
    first.charge("GetCostForecast", NOW, monthly_budget=2)
    with pytest.raises(ProviderError, match="provider aws: the monthly request budget"):
        first.charge("GetCostAndUsage", NOW, monthly_budget=2)
    again = LedgerFile(path, "aws").ledger
    assert (again.month_requests, again.requests) == (
        2,
        {"GetCostAndUsage": 1, "GetCostForecast": 1},
    )
    LedgerFile(path, "aws").charge("GetCostAndUsage", NOW + timedelta(days=11), monthly_budget=2)
    assert LedgerFile(path, "aws").ledger.month_requests == 1
    assert LedgerFile(path, "aws").ledger.total == 3
