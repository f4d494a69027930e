"""A changed csv file is read from the end of what was read before when lines were only
appended to it; any other change is read whole, and both give the groups of a whole read."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from budget_exporter.model.costs import CostData
from budget_exporter.providers.base import ProviderContext
from budget_exporter.providers.cost.csvfile import CsvConfig, CsvProvider
from budget_exporter.providers.support import engine

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
HEADER = "date,service,cost"
# Costs that sum exactly in binary, so any order of addition gives the same total.
BEFORE = [f"2026-11-{day:02d},{service},{day}.25" for day in range(1, 19) for service in "ab"]


def provider(folder: Path, cache: Path | None = None, **settings) -> CsvProvider:
    config = CsvConfig.model_validate(
        {"type": "csv", "paths": ["costs.csv*"], "currency": "USD", **settings}
        | {"dimensions": ["service"]}
    )
    context = ProviderContext(
        "UTC", "USD", str(folder), cache_dir=str(cache) if cache is not None else None
    )
    return CsvProvider("costs", config, context)


def write(path: Path, lines: list[str]) -> None:
    text = (HEADER + "\n" + "\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(text, mtime=0) if path.suffix == ".gz" else text)


def append(path: Path, text: str) -> None:
    with path.open("ab") as stream:
        stream.write(text.encode())


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """What the engine was given to read: "whole" for a cost file, "tail" for a copy of the
    lines appended to one."""
    seen: list[str] = []
    real = engine.grouped

    def grouped(path, *args, **kwargs):
        seen.append("tail" if ".tail." in path.name else "whole")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(engine, "grouped", grouped)
    return seen


def whole_read(folder: Path, now: datetime = NOW, **settings) -> CostData:
    """What a provider that never read the file before makes of it."""
    return provider(folder, **settings).fetch(now)


def read_again(path: Path, change: Callable[[Path], object]) -> CostData:
    """What a provider that read ``path`` (BEFORE) reads of it once ``change`` changed it."""
    write(path, BEFORE)
    reader = provider(path.parent)
    reader.fetch(NOW)
    change(path)
    return reader.fetch(NOW)


def assert_same(data: CostData, expected: CostData) -> None:
    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        keys = ["start", "end", "currency", "charge_category", "service"]
        plain = frame.astype({key: "object" for key in keys[2:]})
        return plain.sort_values(keys).reset_index(drop=True)

    pd.testing.assert_frame_equal(ordered(data.frame), ordered(expected.frame))
    assert (data.bad_rows, data.data_end) == (expected.bad_rows, expected.data_end)


def test_appended_lines_are_read_alone_and_give_the_groups_of_a_whole_read(tmp_path, reads):
    path = tmp_path / "costs.csv"
    write(path, BEFORE)
    reader = provider(tmp_path)
    reader.fetch(NOW)
    # A new day, a late line for a settled day, a bad line; the last line is being written.
    append(path, "2026-11-19,a,19.25\n2026-11-02,b,0.5\nnot a date,a,1\n2026-11-19,b,7.")
    data = reader.fetch(NOW)
    assert reads == ["whole", "tail"]
    assert_same(data, whole_read(tmp_path))
    assert data.bad_rows.count == 1
    assert str(data.bad_rows.examples[0]) == f"{path}:40: date is not a date"
    november_2 = data.frame[data.frame["start"] == pd.Timestamp("2026-11-02", tz="UTC")]
    assert november_2.groupby("service", observed=True)["cost"].sum().to_dict() == {
        "a": 2.25,
        "b": 2.75,
    }
    # The line being written is read once it is whole, alone again.
    append(path, "5\n")
    reads.clear()
    data = reader.fetch(NOW)
    assert reads == ["tail"]
    assert_same(data, whole_read(tmp_path))


def test_a_rewritten_settled_day_of_the_same_size_is_seen(tmp_path, reads):
    path = tmp_path / "costs.csv"
    write(path, BEFORE)
    reader = provider(tmp_path)
    reader.fetch(NOW)
    # November 3rd of service a restated from 3.25 to 9.25, and a day appended after it.
    write(path, [line.replace(",a,3.25", ",a,9.25") for line in BEFORE] + ["2026-11-19,a,1"])
    data = reader.fetch(NOW)
    assert reads == ["whole", "whole"]
    assert_same(data, whole_read(tmp_path))
    day = data.frame[(data.frame["start"] == pd.Timestamp("2026-11-03", tz="UTC"))]
    assert day.groupby("service", observed=True)["cost"].sum().to_dict() == {"a": 9.25, "b": 3.25}


@pytest.mark.parametrize(
    ("lines", "why"),
    [
        ("2026-11-19T06:00:00,a,1\n", "a time in a file of days: every row becomes an hour"),
        ("2026-11-19T00:00:00+02:00,a,1\n", "dates with an offset after dates without"),
    ],
)
def test_appended_lines_whose_dates_read_otherwise_make_a_whole_read(tmp_path, reads, lines, why):
    path = tmp_path / "costs.csv"
    data = read_again(path, lambda path: append(path, lines))
    assert reads == ["whole", "tail", "whole"], why
    assert_same(data, whole_read(tmp_path))


def test_hours_appended_to_a_file_of_hours_are_read_alone(tmp_path, reads):
    path = tmp_path / "costs.csv"
    write(path, [f"2026-11-19T{hour:02d}:00:00Z,a,{hour}.5" for hour in range(10)])
    reader = provider(tmp_path)
    reader.fetch(NOW)
    append(path, "2026-11-19T00:00:00Z,b,1\n2026-11-19T10:00:00Z,a,2\n")  # a midnight too
    data = reader.fetch(NOW)
    assert reads == ["whole", "tail"]
    assert_same(data, whole_read(tmp_path))
    assert (data.frame["end"] - data.frame["start"] == pd.Timedelta(hours=1)).all()


@pytest.mark.parametrize(
    "change",
    [
        lambda path: path.write_bytes(path.read_bytes()[:-30]),  # cut
        lambda path: write(path, BEFORE[1:] + BEFORE[:1]),  # reordered
        lambda path: write(path, [*BEFORE[:-1], "2026-11-18,b,18.5", "2026-11-19,a,1"]),
    ],
    ids=["cut", "reordered", "its last line rewritten"],
)
def test_a_file_changed_before_its_old_end_is_read_whole(tmp_path, reads, change):
    path = tmp_path / "costs.csv"
    data = read_again(path, change)
    assert reads == ["whole", "whole"]
    assert_same(data, whole_read(tmp_path))


@pytest.mark.parametrize(
    "change",
    [
        lambda path: write(path, [*BEFORE, "2026-11-19,a,1"]),  # compressed again, whole
        lambda path: path.write_bytes(  # a gzip member of its own after the first
            path.read_bytes() + gzip.compress(b"2026-11-19,a,1\n", mtime=0)
        ),
    ],
    ids=["rewritten", "a member appended"],
)
def test_a_gzip_file_whose_text_was_appended_to_is_read_from_its_new_lines(tmp_path, reads, change):
    path = tmp_path / "costs.csv.gz"
    data = read_again(path, change)
    assert reads == ["whole", "tail"]
    assert_same(data, whole_read(tmp_path))


def test_a_gzip_file_whose_text_changed_before_its_old_end_is_read_whole(tmp_path, reads):
    restated = [line.replace(",b,1.25", ",b,1.75") for line in BEFORE]
    data = read_again(
        tmp_path / "costs.csv.gz", lambda path: write(path, [*restated, "2026-11-19,a,1"])
    )
    assert reads == ["whole", "whole"]
    assert_same(data, whole_read(tmp_path))


def test_a_date_beyond_the_horizon_makes_the_next_read_whole(tmp_path, reads):
    path = tmp_path / "costs.csv"
    write(path, [*BEFORE, "2027-01-30,a,1"])  # a typo today, a date in range in a month
    reader = provider(tmp_path)
    assert reader.fetch(NOW).bad_rows.count == 1
    append(path, "2026-11-19,a,1\n")
    later = datetime(2027, 1, 1, tzinfo=UTC)
    data = reader.fetch(later)
    assert reads == ["whole", "whole"]
    assert_same(data, whole_read(tmp_path, later))
    assert data.bad_rows.count == 0


def test_after_a_restart_appended_lines_are_still_read_alone(tmp_path, reads):
    path = tmp_path / "costs.csv"
    write(path, BEFORE)
    provider(tmp_path, tmp_path / "cache").fetch(NOW)
    append(path, "2026-11-19,a,19.25\n")
    data = provider(tmp_path, tmp_path / "cache").fetch(NOW)  # a new process, the same state
    assert reads == ["whole", "tail"]
    assert_same(data, whole_read(tmp_path))
    # Nothing of the copy is left in the cache folder.
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["files"]


def test_a_damaged_note_in_the_state_folder_makes_a_whole_read(tmp_path, reads):
    path = tmp_path / "costs.csv"
    write(path, BEFORE)
    provider(tmp_path, tmp_path / "cache").fetch(NOW)
    (record,) = (tmp_path / "cache" / "files").glob("*/*.json")
    kept = json.loads(record.read_text())
    kept["note"] = kept["note"].replace('"rows": 36', '"rows": "many"')
    record.write_text(json.dumps(kept))
    append(path, "2026-11-19,a,19.25\n")
    data = provider(tmp_path, tmp_path / "cache").fetch(NOW)
    assert reads == ["whole", "whole"]
    assert_same(data, whole_read(tmp_path))


def test_a_gzip_file_whose_text_ends_inside_a_line_is_read_whole_when_it_changes(tmp_path, reads):
    path = tmp_path / "costs.csv.gz"
    text = HEADER + "\n" + "\n".join(BEFORE)  # its last line has no end: more may join it
    path.write_bytes(gzip.compress(text.encode(), mtime=0))
    reader = provider(tmp_path)
    reader.fetch(NOW)
    path.write_bytes(gzip.compress((text + "5\n2026-11-19,a,1\n").encode(), mtime=0))
    data = reader.fetch(NOW)
    assert reads == ["whole", "whole"]
    assert_same(data, whole_read(tmp_path))
    assert data.frame["cost"].max() == 18.255
