"""Cost files as careless writers and hostile users leave them: each fault is a bad row with
file and line, or a clear error for that provider, and never a wrong total."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from attacks import attack
from budget_exporter.model.costs import CostData
from budget_exporter.model.errors import ProviderError
from budget_exporter.providers.base import ProviderContext
from budget_exporter.providers.cost.csvfile import CsvConfig, CsvProvider
from budget_exporter.providers.cost.focus import FocusConfig, FocusProvider

NOW = datetime(2024, 11, 12, tzinfo=UTC)


def csv_fetch(folder: Path, **settings: object) -> CostData:
    config = CsvConfig.model_validate({"type": "csv", "paths": ["*.csv*"], **settings})
    return CsvProvider("costs", config, ProviderContext("UTC", "USD", str(folder))).fetch(NOW)


@attack(
    "cost and incident files",
    "one row dated 2199-12-31 among current rows",
    "a bad row with its line; staleness still shows",
    found=6,
)
def test_a_row_dated_far_ahead_is_a_bad_row_and_does_not_hide_staleness(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("date,cost\n2024-11-10,5\n2024-11-11,6\n2199-12-31,7\n")
    data = csv_fetch(tmp_path)
    assert [str(row) for row in data.bad_rows.examples] == [
        f"{tmp_path / 'c.csv'}:4: date is in the future"
    ]
    assert data.data_end == datetime(2024, 11, 12, tzinfo=UTC)  # the end of Nov 11
    assert float(data.frame["cost"].sum()) == 11.0


@attack("cost and incident files", "a row dated 9999-01-01", "one bad row, the rest read", found=8)
def test_a_date_out_of_the_timestamp_range_is_one_bad_row_not_a_failed_file(
    tmp_path: Path,
) -> None:
    focus = "ChargePeriodStart,ChargePeriodEnd,BilledCost,BillingCurrency\n"
    focus += "2024-11-10T00:00:00Z,2024-11-10T01:00:00Z,3,USD\n9999-01-01,9999-01-02,4,USD\n"
    (tmp_path / "f.csv").write_text(focus)
    config = FocusConfig(type="focus", paths=("f.csv",))
    data = FocusProvider("f", config, ProviderContext("UTC", "USD", str(tmp_path))).fetch(NOW)
    assert data.bad_rows.count == 1
    assert str(data.bad_rows.examples[0]).endswith("f.csv:3: ChargePeriodStart is in the future")
    assert float(data.frame["cost"].sum()) == 3.0


@attack(
    "cost and incident files",
    "a last line written in two parts (torn)",
    "not summed until complete",
    found=10,
)
def test_a_last_line_without_its_newline_is_not_read_until_it_is_complete(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.csv"
    path.write_text("date,cost,currency\n2024-11-10,5,USD\n2024-11-11,125")  # half a write
    assert float(csv_fetch(tmp_path, currency_column="currency").frame["cost"].sum()) == 5.0
    path.write_text("date,cost,currency\n2024-11-10,5,USD\n2024-11-11,125.5,USD\n")
    assert float(csv_fetch(tmp_path, currency_column="currency").frame["cost"].sum()) == 130.5


@attack(
    "cost and incident files",
    "an export whose every date reads 09/05/2023",
    "its provider fails, naming the date_format that reads it",
    found=16,
)
def test_a_file_of_only_bad_rows_fails_its_provider_naming_the_date_format(
    tmp_path: Path,
) -> None:
    (tmp_path / "azure.csv").write_text("Date,Cost\n09/05/2023,1\n09/06/2023,2\n")
    with pytest.raises(ProviderError) as caught:
        csv_fetch(tmp_path, date_column="Date", cost_column="Cost")
    message = str(caught.value)
    assert "2 of 2 rows" in message and "azure.csv:2: Date is not a date" in message
    assert "date_format: '%m/%d/%Y'" in message


def test_the_date_format_that_the_error_names_reads_the_file(tmp_path: Path) -> None:
    (tmp_path / "azure.csv").write_text("Date,Cost\n09/05/2023,1\n09/06/2023,2\n")
    data = csv_fetch(tmp_path, date_column="Date", cost_column="Cost", date_format="%m/%d/%Y")
    assert data.bad_rows.count == 0 and float(data.frame["cost"].sum()) == 3.0


@attack(
    "cost and incident files",
    "a small .csv.gz holding more text than max_decompressed_bytes",
    "its provider fails naming the file and the setting; memory bounded",
    found=4,
)
def test_a_gzip_file_beyond_the_decompressed_cap_fails_its_provider(tmp_path: Path) -> None:
    rows = "".join(f"2024-11-{1 + i % 9:02d},1\n" for i in range(200_000))
    with gzip.open(tmp_path / "c.csv.gz", "wt") as stream:
        stream.write("date,cost\n" + rows)
    with pytest.raises(ProviderError, match=r"c\.csv\.gz decompresses to more than 1,000 bytes"):
        csv_fetch(tmp_path, max_decompressed_bytes=1000)


@attack(
    "cost and incident files",
    "a line longer than max_field_bytes",
    "its provider fails naming the file and the setting",
    found=4,
)
def test_a_field_beyond_the_line_cap_fails_its_provider_with_the_setting(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("date,cost\n2024-11-10," + "9" * 5000 + "\n")
    with pytest.raises(ProviderError, match=r"c\.csv: a line is longer than max_field_bytes"):
        csv_fetch(tmp_path, max_field_bytes=1024)


def test_only_the_dimensions_budgets_use_are_kept(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("date,cost,svc,team\n2024-11-10,5,a,x\n2024-11-10,6,a,y\n")
    config = CsvConfig.model_validate(
        {
            "type": "csv",
            "paths": ["c.csv"],
            "dimensions": {"ServiceName": "svc", "tags.team": "team"},
        }
    )
    context = ProviderContext("UTC", "USD", str(tmp_path), dimensions=frozenset({"ServiceName"}))
    data = CsvProvider("costs", config, context).fetch(NOW)
    # The unused dimension stays known, with one empty value: it splits no rows.
    assert data.frame["tags.team"].tolist() == [""]
    assert data.frame["cost"].tolist() == [11.0]


@attack(
    "cost and incident files",
    "incident durations 999999999999 and 1e308",
    "one bad row with its line",
    found=8,
)
@pytest.mark.parametrize("duration", ["999999999999", "1e308"])
def test_an_incident_duration_out_of_range_is_one_bad_row_with_its_line(
    tmp_path: Path, duration: str
) -> None:
    from budget_exporter.providers.incidents.file import (
        IncidentsFileConfig,
        IncidentsFileProvider,
    )

    (tmp_path / "i.yml").write_text(
        f"- {{id: a, start: 2024-11-01T00:00:00Z, duration: 60}}\n"
        f"- {{id: b, start: 2024-11-01T00:00:00Z, duration: {duration}}}\n"
    )
    config = IncidentsFileConfig.model_validate(
        {"type": "incidents_file", "paths": ["i.yml"], "service": "s"}
    )
    provider = IncidentsFileProvider("inc", config, ProviderContext("UTC", "USD", str(tmp_path)))
    data = provider.fetch(NOW)
    assert [incident.id for incident in data.incidents] == ["a"]
    (row,) = data.bad_rows.examples
    assert (row.line, row.reason.split(" (")[0]) == (2, "a date or duration is out of range")


def test_a_restart_does_not_read_again_the_files_that_have_not_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from budget_exporter.config.loader import parse_config
    from budget_exporter.providers.support import engine
    from budget_exporter.service.refresh import Refresher
    from budget_exporter.service.state import StateDir

    (tmp_path / "old.csv").write_text("date,cost\n2024-10-01,5\nbad,1\n")
    (tmp_path / "new.csv").write_text("date,cost\n2024-11-10,6\n")
    text = "providers:\n  costs: {type: csv, paths: ['*.csv']}\nbudgets:\n"
    text += "  - {name: all, amount: 100, period: monthly}\n"
    config = parse_config(text, str(tmp_path / "c.yml"), str(tmp_path))
    Refresher(config, StateDir(tmp_path / "state")).refresh(NOW)
    (tmp_path / "new.csv").write_text("date,cost\n2024-11-10,6\n2024-11-11,7\n")
    read: list[str] = []
    grouped = engine.grouped
    monkeypatch.setattr(
        engine, "grouped", lambda path, *a, **k: read.append(path.name) or grouped(path, *a, **k)
    )
    restarted = Refresher(config, StateDir(tmp_path / "state"))
    restarted.refresh(NOW, ["costs"])
    # Only new.csv is read: the line appended to it, from a copy of that line.
    assert [name.split(".tail.")[0] for name in read] == [".new.csv"]
    data = restarted.data["costs"]
    assert float(data.frame["cost"].sum()) == 18.0
    assert [str(row) for row in data.bad_rows.examples] == [
        f"{tmp_path / 'old.csv'}:3: date is not a date"
    ]
