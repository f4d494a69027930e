"""Cost files' groups kept in the state folder, and changed files read again from their
unsettled days only."""

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from budget_exporter.model.costs import CostData
from budget_exporter.providers.base import ProviderContext
from budget_exporter.providers.cost.focus import FocusConfig, FocusProvider

AT = datetime(2024, 9, 11, 12, tzinfo=UTC)
HEADER = "ChargePeriodStart,ChargePeriodEnd,BilledCost,BillingCurrency,ServiceName,Tags\n"


def hourly(days: range, cost=lambda day, hour: 1.0, services=("db", "web")) -> str:
    """Hourly FOCUS lines of September 2024, one per service and hour of each day."""
    lines = []
    for day in days:
        for hour in range(24):
            start = datetime(2024, 9, day, hour, tzinfo=UTC)
            end = start + timedelta(hours=1)
            for service in services:
                tags = '"{""team"": ""t-' + service + '""}"'
                lines.append(
                    f"{start:%Y-%m-%dT%H:%M:%SZ},{end:%Y-%m-%dT%H:%M:%SZ},"
                    f"{cost(day, hour)},USD,{service},{tags}\n"
                )
    return HEADER + "".join(lines)


def provider(folder: Path, **settings) -> FocusProvider:
    """A FOCUS provider over ``folder/bill.csv`` keeping its groups under ``folder/state``."""
    config = FocusConfig(type="focus", **{"paths": ("bill.csv",), **settings})
    context = ProviderContext(
        "UTC",
        "USD",
        str(folder),
        cache_dir=str(folder / "state"),
        dimensions=frozenset({"ServiceName", "tags.team"}),
    )
    return FocusProvider("billing", config, context)


def counting(source: FocusProvider) -> list[pd.Timestamp | None]:
    """Records the ``since`` of every parse of ``source`` (None: the whole file)."""
    calls: list[pd.Timestamp | None] = []
    parse = source.parse_file

    def counted(path, now, since=None):
        calls.append(since)
        return parse(path, now, since)

    source.parse_file = counted  # type: ignore[method-assign]
    return calls


def day_spend(data: CostData, day: int) -> float:
    """Spend of the rows that start on a day of September 2024."""
    start = pd.Timestamp(datetime(2024, 9, day, tzinfo=UTC))
    rows = data.frame[
        (data.frame["start"] >= start) & (data.frame["start"] < start + pd.Timedelta(days=1))
    ]
    return float(rows["cost"].sum())


def same_frame(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Both normalized frames hold the same rows (column order aside)."""
    columns = sorted(a.columns)
    assert columns == sorted(b.columns)
    left = a[columns].astype({c: "object" for c in columns if c not in ("start", "end", "cost")})
    right = b[columns].astype({c: "object" for c in columns if c not in ("start", "end", "cost")})
    pd.testing.assert_frame_equal(left.reset_index(drop=True), right.reset_index(drop=True))


def test_a_restart_reads_no_unchanged_file_again(tmp_path):
    (tmp_path / "bill.csv").write_text(hourly(range(1, 11)), encoding="utf-8")
    first = provider(tmp_path).fetch(AT)
    again = provider(tmp_path)  # new objects, the same state folder
    calls = counting(again)
    data = again.fetch(AT + timedelta(hours=1))
    assert calls == []
    same_frame(data.frame, first.frame)
    assert data.data_end == first.data_end == datetime(2024, 9, 11, tzinfo=UTC)


def test_a_changed_file_is_read_again_from_its_unsettled_days_and_keeps_the_settled_ones(
    tmp_path,
):
    bill = tmp_path / "bill.csv"
    bill.write_text(hourly(range(1, 11)), encoding="utf-8")
    source = provider(tmp_path, settlement_lag="3d")
    source.fetch(AT)
    calls = counting(source)
    # The provider rewrites its file: day 9 (provisional) is corrected, day 11 is new, and
    # day 2, settled, changes too (which the settlement horizon says does not happen).
    changed = {2: 5.0, 9: 2.0}
    bill.write_text(hourly(range(1, 12), lambda d, h: changed.get(d, 1.0)), encoding="utf-8")
    later = AT + timedelta(hours=13)
    data = source.fetch(later)
    # Newest data ended 2024-09-11 00:00; minus 3 days, to the day: the 8th is settled.
    assert calls == [pd.Timestamp("2024-09-08", tz="UTC") - pd.Timedelta(days=2)]
    assert day_spend(data, 2) == 48.0  # kept as read before
    assert day_spend(data, 9) == 96.0  # read again: 24 hours x 2 services x 2.0
    assert day_spend(data, 11) == 48.0
    assert data.data_end == datetime(2024, 9, 12, tzinfo=UTC)
    # A day after the last whole read, the next change reads the whole file: day 2 shows.
    bill.write_text(hourly(range(1, 12), lambda d, h: changed.get(d, 1.0)) + "\n", "utf-8")
    data = source.fetch(AT + timedelta(days=1, hours=1))
    assert calls[-1] is None
    assert day_spend(data, 2) == 240.0


def test_reading_the_unsettled_days_gives_what_reading_the_whole_file_gives(tmp_path):
    bill = tmp_path / "bill.csv"
    bill.write_text(hourly(range(1, 11)), encoding="utf-8")
    source = provider(tmp_path)
    source.fetch(AT)
    cost = lambda day, hour: 1.0 + day / 10 + hour / 100  # noqa: E731
    bill.write_text(hourly(range(1, 12), cost, ("db", "web", "ml")), encoding="utf-8")
    calls = counting(source)
    tail = source.fetch(AT + timedelta(hours=1))
    assert calls[0] is not None
    # What a whole read gives, for the days the first read had settled as they were then.
    whole = provider(tmp_path / "other", paths=(str(bill),)).fetch(AT + timedelta(hours=1))
    settled = pd.Timestamp("2024-09-08", tz="UTC")
    kept = tail.frame[tail.frame["end"] > settled]
    same_frame(kept, whole.frame[whole.frame["end"] > settled].reset_index(drop=True))
    assert tail.bad_rows.count == whole.bad_rows.count == 0


def test_a_file_with_bad_rows_is_read_whole_when_it_changes(tmp_path):
    bill = tmp_path / "bill.csv"
    text = hourly(range(1, 11))
    bill.write_text(text + "2024-09-02T00:00:00Z,,oops,USD,db,\n", encoding="utf-8")
    source = provider(tmp_path)
    assert source.fetch(AT).bad_rows.count == 1
    calls = counting(source)
    bill.write_text(text + "2024-09-02T00:00:00Z,,still,USD,db,\n", encoding="utf-8")
    data = source.fetch(AT + timedelta(hours=1))
    assert calls == [None]  # bad rows have no trusted date: which are settled is unknown
    assert data.bad_rows.count == 1


def kept_records(folder: Path) -> list[Path]:
    return sorted((folder / "state/files").glob("*/*.json"))


@pytest.mark.parametrize(
    "damage",
    ["torn record", "other format", "groups changed", "other file's record", "groups gone"],
)
def test_damaged_kept_groups_are_ignored_with_a_log_line_and_the_file_read_again(
    tmp_path, caplog, damage
):
    (tmp_path / "bill.csv").write_text(hourly(range(1, 11)), encoding="utf-8")
    first = provider(tmp_path).fetch(AT)
    [record] = kept_records(tmp_path)
    content = json.loads(record.read_text())
    if damage == "torn record":
        record.write_text(record.read_text()[:40])
    elif damage == "other format":
        record.write_text(json.dumps({**content, "format": 1}))
    elif damage == "groups changed":
        groups = record.with_suffix(".parquet")
        frame = pd.read_parquet(groups)
        frame["cost"] *= 2
        frame.to_parquet(groups, index=False)
    elif damage == "other file's record":
        record.write_text(json.dumps({**content, "path": str(tmp_path / "another.csv")}))
    else:
        record.with_suffix(".parquet").unlink()
    again = provider(tmp_path)
    calls = counting(again)
    with caplog.at_level(logging.WARNING):
        data = again.fetch(AT)
    assert calls == [None]
    assert any("ignoring the kept groups" in r.getMessage() for r in caplog.records)
    same_frame(data.frame, first.frame)
