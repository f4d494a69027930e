"""Refreshes and snapshots at the edges of the calendar: midnight, month end, leap day, the two
DST changes of Europe/Paris, and a period that rolls over between a refresh and its snapshot."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from budget_exporter.config.loader import parse_config
from budget_exporter.evaluation.snapshot import Snapshot
from budget_exporter.service.refresh import Refresher

PARIS = ZoneInfo("Europe/Paris")
DAILY_COST = 10.0
CONFIG = """
timezone: Europe/Paris
providers:
  costs: {type: csv, paths: ["costs.csv"]}
budgets:
  - {name: day, amount: 100, period: daily}
  - {name: month, amount: 1000, period: monthly}
"""


@pytest.fixture
def refresher(tmp_path: Path) -> Refresher:
    """10 a day, every local day of 2024 (each row covers its Paris day, 23 to 25 hours)."""
    days = [date(2024, 1, 1) + timedelta(days=n) for n in range(366)]
    rows = "".join(f"{day.isoformat()},{DAILY_COST}\n" for day in days)
    (tmp_path / "costs.csv").write_text("date,cost\n" + rows)
    return Refresher(parse_config(CONFIG, str(tmp_path / "config.yml"), str(tmp_path)))


def paris(*parts: int) -> datetime:
    """A wall-clock time in Paris."""
    return datetime(*parts, tzinfo=PARIS)


def status(snapshot: Snapshot, name: str):  # type: ignore[no-untyped-def]
    """The status of budget ``name`` in a snapshot."""
    return next(entry.status for entry in snapshot.budgets if entry.status.name == name)


def test_a_snapshot_one_second_after_month_end_starts_the_new_month(refresher: Refresher) -> None:
    before = paris(2024, 1, 31, 23, 0)
    refresher.refresh(before)
    month = status(refresher.snapshot(before), "month")
    assert month.period.start == paris(2024, 1, 1)
    assert month.spend == pytest.approx(DAILY_COST * (30 + 23 / 24))
    # The next snapshot runs after midnight with the data of the refresh before it.
    after = paris(2024, 2, 1, 0, 0, 1)
    snapshot = refresher.snapshot(after)
    month, day = status(snapshot, "month"), status(snapshot, "day")
    assert (month.period.start, month.period.end) == (paris(2024, 2, 1), paris(2024, 3, 1))
    assert day.period.start == paris(2024, 2, 1)
    # One second of 1 February's row, spread evenly over its day; nothing of January's spend.
    assert month.spend == pytest.approx(DAILY_COST / 86400)
    assert day.spend == pytest.approx(DAILY_COST / 86400)
    assert all(rate >= 0 for rate in [*month.burn_rates.values(), *day.burn_rates.values()])
    assert month.elapsed_ratio == pytest.approx(1 / (29 * 86400))


def test_a_refresh_just_after_midnight_counts_the_new_day_only(refresher: Refresher) -> None:
    now = paris(2024, 6, 15, 0, 0, 30)
    refresher.refresh(now)
    day = status(refresher.snapshot(now), "day")
    assert day.spend == pytest.approx(DAILY_COST * 30 / 86400)
    assert day.utilization == day.spend / 100


def test_february_of_a_leap_year_has_29_days(refresher: Refresher) -> None:
    now = paris(2024, 2, 29, 12)
    refresher.refresh(now)
    month = status(refresher.snapshot(now), "month")
    assert month.period.length_seconds == 29 * 86400
    assert month.spend == pytest.approx(DAILY_COST * 28.5)
    assert month.elapsed_ratio == pytest.approx(28.5 / 29)


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2024, 3, 31), 23), (date(2024, 10, 27), 25)],
    ids=["the spring day has 23 hours", "the autumn day has 25 hours"],
)
def test_a_dst_day_is_as_long_as_it_really_is(refresher: Refresher, day: date, hours: int) -> None:
    # 22:30 local on each DST day: 21.5 real hours passed in spring, 23.5 in autumn.
    now = paris(day.year, day.month, day.day, 22, 30)
    elapsed = now.timestamp() - paris(day.year, day.month, day.day).timestamp()
    refresher.refresh(now)
    budget = status(refresher.snapshot(now), "day")
    assert budget.period.length_seconds == hours * 3600
    assert budget.elapsed_ratio == pytest.approx(elapsed / (hours * 3600))
    assert budget.spend == pytest.approx(DAILY_COST * elapsed / (hours * 3600))
    # At this pace the day ends exactly on its cost: the burn rate is 10/100 of the limit's.
    assert budget.burn_rates["period"] == pytest.approx(DAILY_COST / 100)


def test_a_period_that_rolls_over_during_a_refresh_is_evaluated_at_the_snapshot_time(
    refresher: Refresher,
) -> None:
    started = paris(2024, 12, 31, 23, 59, 59)
    refresher.refresh(started)  # the fetch began in December...
    finished = paris(2025, 1, 1, 0, 0, 2)  # ...and the snapshot is taken in the new year
    snapshot = refresher.snapshot(finished)
    month = status(snapshot, "month")
    assert month.period.start == paris(2025, 1, 1)
    assert month.spend == 0.0
    assert month.as_of == month.period.start
    assert snapshot.taken_at == finished
