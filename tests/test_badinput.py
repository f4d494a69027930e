"""The bad input corpus under tests/badinput/: every malformed config or data file gives a clear
error naming the file and the place (line, key or row), and nothing crashes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from budget_exporter.config.loader import load_config, parse_config
from budget_exporter.model.errors import ConfigError, ProviderError
from budget_exporter.service.refresh import Refresher

CORPUS = Path(__file__).resolve().parent / "badinput"
NOW = datetime(2024, 9, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "where", "message"),
    [
        ("absurd_amount.yml", "4: budgets[0].amount", "less than or equal to 1000000000000"),
        ("infinite_amount.yml", "4: budgets[0].amount", "less than or equal to 1000000000000"),
        ("nan_threshold.yml", "4: budgets[0].thresholds", "threshold warning=nan"),
        ("amount_as_text.yml", "4: budgets[0].amount", "valid number"),
        ("budgets_not_a_list.yml", "3: budgets", "valid tuple"),
        ("paths_a_mapping.yml", "4: providers.billing.paths", "valid tuple"),
        ("negative_refresh.yml", "1: refresh_interval", "invalid duration '-1h'"),
        ("huge_duration.yml", "1: refresh_interval", "is too long"),
        ("empty.yml", " providers", "required key is missing"),
        ("tab_indentation.yml", "2: <top level>", "invalid YAML"),
        ("two_documents.yml", "3: <top level>", "another document"),
        ("python_tag.yml", "3: <top level>", "could not determine a constructor"),
        ("latin1.yml", "4: <top level>", "not UTF-8 text"),
        ("binary.yml", "2: <top level>", "not UTF-8 text"),
        ("alias_bomb.yml", "9: <top level>", "an alias bomb"),
        ("self_alias.yml", "3: <top level>", "an alias refers to a node that contains it"),
        ("deep_nesting.yml", "3: <top level>", "nests deeper than 64 levels"),
    ],
    ids=lambda value: value if str(value).endswith(".yml") else "",
)
def test_each_bad_config_is_refused_naming_file_and_place(
    name: str, where: str, message: str
) -> None:
    path = CORPUS / "configs" / name
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert f"{path}:{where}" in text or f"{path}{where}" in text, text
    assert message in text, text


def fetch(kind: str, pattern: str, folder: Path = CORPUS / "data") -> object:
    """Fetch once from a provider of ``kind`` reading ``pattern`` under ``folder``."""
    config = parse_config(
        f"providers:\n  p: {{type: {kind}, paths: ['{pattern}']}}\n", "c.yml", str(folder)
    )
    return Refresher(config).providers["p"].fetch(NOW)


@pytest.mark.parametrize(
    ("kind", "name", "message"),
    [
        ("csv", "missing_cost_column.csv", "lacks column(s) cost; it has date, amount"),
        ("csv", "latin1.csv", "'utf-8' codec can't decode byte 0xe9 in position 35"),
        ("csv", "ragged.csv", "CSV Error on Line: 3: Original Line: 2024-09-02,5,extra,fields"),
        ("csv", "empty.csv", "no header line: the file is empty"),
        # Read by its content, not its name: plain text named .gz is plain text, without a cost.
        ("csv", "not_gzip.csv.gz", "lacks column(s) date, cost; it has plain text"),
        ("csv", "truncated.parquet", "No magic bytes found at end of file"),
        ("csv", "wrong_schema.parquet", "lacks column(s) date, cost; it has when, price"),
        ("focus", "wrong_schema.parquet", "is not a FOCUS file: missing column(s)"),
        ("focus", "bad_values.csv", "is not a FOCUS file"),
        ("incidents_file", "incidents_not_a_list.json", "expected a list of incident records"),
        ("incidents_file", "incidents_alias_bomb.yml", ":6: aliases expand the document"),
        ("incidents_file", "incidents_truncated.json", ":1: expected the node content"),
    ],
    ids=lambda value: value if "." in str(value) else "",
)
def test_each_unreadable_data_file_fails_its_provider_naming_the_file(
    kind: str, name: str, message: str
) -> None:
    with pytest.raises(ProviderError) as caught:
        fetch(kind, name)
    assert str(CORPUS / "data" / name) in str(caught.value)
    assert message in str(caught.value)


def test_bad_values_are_bad_rows_with_their_line_and_the_good_rows_are_kept() -> None:
    data = fetch("csv", "bad_values.csv")
    path = CORPUS / "data" / "bad_values.csv"
    assert [str(row) for row in data.bad_rows.examples] == [  # type: ignore[attr-defined]
        f"{path}:3: date is not a date",
        f"{path}:4: cost is not a number",
        f"{path}:5: cost is infinite or beyond ±1e12",
        f"{path}:6: cost is infinite or beyond ±1e12",
    ]
    assert data.frame["cost"].tolist() == [10.0]  # type: ignore[attr-defined]


def test_a_parquet_file_whose_every_row_has_a_wrongly_typed_date_fails_its_provider() -> None:
    # Every row bad is a file read wrongly, not zero spend: the provider fails, naming a row.
    with pytest.raises(
        ProviderError,
        match=r"2 of 2 rows of .*wrong_types\.parquet are bad, "
        r"first .*wrong_types\.parquet:1: date is not a date",
    ):
        fetch("csv", "wrong_types.parquet")


def test_a_byte_order_mark_is_read_as_nothing() -> None:
    data = fetch("csv", "bom.csv")
    assert data.frame["cost"].sum() == 15.0  # type: ignore[attr-defined]
    assert data.bad_rows.count == 0  # type: ignore[attr-defined]


def test_a_utf16_file_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "costs.csv").write_text("date,cost\n2024-09-01,10\n", encoding="utf-16")
    with pytest.raises(ProviderError, match=r"costs\.csv: 'utf-8' codec can't decode"):
        fetch("csv", "costs.csv", tmp_path)


def test_a_huge_field_is_a_bad_row_not_a_crash(tmp_path: Path) -> None:
    huge = "9" * 5_000_000
    (tmp_path / "costs.csv").write_text(f"date,cost\n2024-09-01,{huge}\n2024-09-02,5\n")
    data = fetch("csv", "costs.csv", tmp_path)
    assert data.frame["cost"].tolist() == [5.0]  # type: ignore[attr-defined]
    assert "costs.csv:2: cost is" in str(data.bad_rows.examples[0])  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000 + "]" * 100_000, '{"incidents": ' + "[" * 5_000 + "]" * 5_000 + "}"],
    ids=["nested arrays", "nested incident list"],
)
def test_a_json_bomb_of_nested_arrays_is_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "incidents.json").write_text(text)
    with pytest.raises(ProviderError, match=r"incidents\.json.*nests too deep"):
        fetch("incidents_file", "incidents.json", tmp_path)
