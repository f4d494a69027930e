"""The bad input corpus under tests/badinput/: every malformed config or data file gives a clear
error naming the file and the place (line, key or row), and nothing crashes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from attacks import attack, case
from budget_exporter.config.loader import load_config, parse_config
from budget_exporter.model.errors import ConfigError, ProviderError
from budget_exporter.service.refresh import Refresher

CORPUS = Path(__file__).resolve().parent / "badinput"
NOW = datetime(2024, 9, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "where", "message"),
    [
        case(
            "config files",
            "`absurd_amount.yml`",
            "refused: file, line, key path and what is wrong",
            "absurd_amount.yml",
            "4: budgets[0].amount",
            "less than or equal to 1000000000000",
            id="absurd_amount.yml",
        ),
        case(
            "config files",
            "`infinite_amount.yml`",
            "refused: file, line, key path and what is wrong",
            "infinite_amount.yml",
            "4: budgets[0].amount",
            "less than or equal to 1000000000000",
            id="infinite_amount.yml",
        ),
        case(
            "config files",
            "`nan_threshold.yml`",
            "refused: file, line, key path and what is wrong",
            "nan_threshold.yml",
            "4: budgets[0].thresholds",
            "threshold warning=nan",
            id="nan_threshold.yml",
        ),
        case(
            "config files",
            "`amount_as_text.yml`",
            "refused: file, line, key path and what is wrong",
            "amount_as_text.yml",
            "4: budgets[0].amount",
            "valid number",
            id="amount_as_text.yml",
        ),
        case(
            "config files",
            "`budgets_not_a_list.yml`",
            "refused: file, line, key path and what is wrong",
            "budgets_not_a_list.yml",
            "3: budgets",
            "valid tuple",
            id="budgets_not_a_list.yml",
        ),
        case(
            "config files",
            "`paths_a_mapping.yml`",
            "refused: file, line, key path and what is wrong",
            "paths_a_mapping.yml",
            "4: providers.billing.paths",
            "valid tuple",
            id="paths_a_mapping.yml",
        ),
        case(
            "config files",
            "`negative_refresh.yml`",
            "refused: file, line, key path and what is wrong",
            "negative_refresh.yml",
            "1: refresh_interval",
            "invalid duration '-1h'",
            id="negative_refresh.yml",
        ),
        case(
            "config files",
            "`huge_duration.yml`",
            "refused: file, line, key path and what is wrong",
            "huge_duration.yml",
            "1: refresh_interval",
            "is too long",
            id="huge_duration.yml",
        ),
        case(
            "config files",
            "`empty.yml`",
            "refused: file, line, key path and what is wrong",
            "empty.yml",
            " providers",
            "required key is missing",
            id="empty.yml",
        ),
        case(
            "config files",
            "`tab_indentation.yml`",
            "refused: file, line, key path and what is wrong",
            "tab_indentation.yml",
            "2: <top level>",
            "invalid YAML",
            id="tab_indentation.yml",
        ),
        case(
            "config files",
            "`two_documents.yml`",
            "refused: file, line, key path and what is wrong",
            "two_documents.yml",
            "3: <top level>",
            "another document",
            id="two_documents.yml",
        ),
        case(
            "config files",
            "`python_tag.yml`",
            "refused: file, line, key path and what is wrong",
            "python_tag.yml",
            "3: <top level>",
            "could not determine a constructor",
            id="python_tag.yml",
        ),
        case(
            "config files",
            "`latin1.yml`",
            "refused: file, line, key path and what is wrong",
            "latin1.yml",
            "4: <top level>",
            "not UTF-8 text",
            id="latin1.yml",
        ),
        case(
            "config files",
            "`binary.yml`",
            "refused: file, line, key path and what is wrong",
            "binary.yml",
            "2: <top level>",
            "not UTF-8 text",
            id="binary.yml",
        ),
        case(
            "config files",
            "`alias_bomb.yml`",
            "refused: file, line, key path and what is wrong",
            "alias_bomb.yml",
            "9: <top level>",
            "an alias bomb",
            id="alias_bomb.yml",
        ),
        case(
            "config files",
            "`self_alias.yml`",
            "refused: file, line, key path and what is wrong",
            "self_alias.yml",
            "3: <top level>",
            "an alias refers to a node that contains it",
            id="self_alias.yml",
        ),
        case(
            "config files",
            "`deep_nesting.yml`",
            "refused: file, line, key path and what is wrong",
            "deep_nesting.yml",
            "3: <top level>",
            "nests deeper than 64 levels",
            id="deep_nesting.yml",
        ),
    ],
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
        case(
            "cost and incident files",
            "`missing_cost_column.csv` (csv)",
            "its provider fails, naming the file and the problem",
            "csv",
            "missing_cost_column.csv",
            "lacks column(s) cost; it has date, amount",
            id="missing_cost_column.csv",
        ),
        case(
            "cost and incident files",
            "`latin1.csv` (csv)",
            "its provider fails, naming the file and the problem",
            "csv",
            "latin1.csv",
            "'utf-8' codec can't decode byte 0xe9 in position 35",
            id="latin1.csv",
        ),
        case(
            "cost and incident files",
            "`ragged.csv` (csv)",
            "its provider fails, naming the file and the problem",
            "csv",
            "ragged.csv",
            "CSV Error on Line: 3: Original Line: 2024-09-02,5,extra,fields",
            id="ragged.csv",
        ),
        case(
            "cost and incident files",
            "`empty.csv` (csv)",
            "its provider fails, naming the file and the problem",
            "csv",
            "empty.csv",
            "no header line: the file is empty",
            id="empty.csv",
        ),
        # Read by its content, not its name: plain text named .gz is plain text, without a cost.
        case(
            "cost and incident files",
            "`not_gzip.csv.gz` (csv)",
            "its provider fails, naming the file and the problem",
            "csv",
            "not_gzip.csv.gz",
            "lacks column(s) date, cost; it has plain text",
            id="not_gzip.csv.gz",
        ),
        case(
            "cost and incident files",
            "`truncated.parquet` (csv)",
            "its provider fails, naming the file and the problem",
            "csv",
            "truncated.parquet",
            "No magic bytes found at end of file",
            id="truncated.parquet",
        ),
        case(
            "cost and incident files",
            "`wrong_schema.parquet` (csv)",
            "its provider fails, naming the file and the problem",
            "csv",
            "wrong_schema.parquet",
            "lacks column(s) date, cost; it has when, price",
            id="wrong_schema.parquet",
        ),
        case(
            "cost and incident files",
            "`wrong_schema.parquet` (focus)",
            "its provider fails, naming the file and the problem",
            "focus",
            "wrong_schema.parquet",
            "is not a FOCUS file: missing column(s)",
            id="wrong_schema.parquet",
        ),
        case(
            "cost and incident files",
            "`bad_values.csv` (focus)",
            "its provider fails, naming the file and the problem",
            "focus",
            "bad_values.csv",
            "is not a FOCUS file",
            id="bad_values.csv",
        ),
        case(
            "cost and incident files",
            "`incidents_not_a_list.json` (incidents_file)",
            "its provider fails, naming the file and the problem",
            "incidents_file",
            "incidents_not_a_list.json",
            "expected a list of incident records",
            id="incidents_not_a_list.json",
        ),
        case(
            "cost and incident files",
            "`incidents_alias_bomb.yml` (incidents_file)",
            "its provider fails, naming the file and the problem",
            "incidents_file",
            "incidents_alias_bomb.yml",
            ":6: aliases expand the document",
            id="incidents_alias_bomb.yml",
        ),
        case(
            "cost and incident files",
            "`incidents_truncated.json` (incidents_file)",
            "its provider fails, naming the file and the problem",
            "incidents_file",
            "incidents_truncated.json",
            ":1: expected the node content",
            id="incidents_truncated.json",
        ),
    ],
)
def test_each_unreadable_data_file_fails_its_provider_naming_the_file(
    kind: str, name: str, message: str
) -> None:
    with pytest.raises(ProviderError) as caught:
        fetch(kind, name)
    assert str(CORPUS / "data" / name) in str(caught.value)
    assert message in str(caught.value)


@attack(
    "cost and incident files",
    "a CSV of bad dates, non-numbers, infinite and absurd costs beside one good row",
    "bad rows with file and line; the good row kept",
)
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


@attack(
    "cost and incident files",
    "a Parquet file whose every date is wrongly typed",
    "its provider fails, naming the count and the first bad row",
)
def test_a_parquet_file_whose_every_row_has_a_wrongly_typed_date_fails_its_provider() -> None:
    # Every row bad is a file read wrongly, not zero spend: the provider fails, naming a row.
    with pytest.raises(
        ProviderError,
        match=r"2 of 2 rows of .*wrong_types\.parquet are bad, "
        r"first .*wrong_types\.parquet:1: date is not a date",
    ):
        fetch("csv", "wrong_types.parquet")


@attack(
    "cost and incident files", "a CSV starting with a byte-order mark", "read as if it had none"
)
def test_a_byte_order_mark_is_read_as_nothing() -> None:
    data = fetch("csv", "bom.csv")
    assert data.frame["cost"].sum() == 15.0  # type: ignore[attr-defined]
    assert data.bad_rows.count == 0  # type: ignore[attr-defined]


@attack(
    "cost and incident files", "a UTF-16 CSV", "its provider fails, naming the file and the problem"
)
def test_a_utf16_file_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "costs.csv").write_text("date,cost\n2024-09-01,10\n", encoding="utf-16")
    with pytest.raises(ProviderError, match=r"costs\.csv: 'utf-8' codec can't decode"):
        fetch("csv", "costs.csv", tmp_path)


@attack(
    "cost and incident files", "a 5 MB cost field", "one bad row with its line; the other rows kept"
)
def test_a_huge_field_is_a_bad_row_not_a_crash(tmp_path: Path) -> None:
    huge = "9" * 5_000_000
    (tmp_path / "costs.csv").write_text(f"date,cost\n2024-09-01,{huge}\n2024-09-02,5\n")
    data = fetch("csv", "costs.csv", tmp_path)
    assert data.frame["cost"].tolist() == [5.0]  # type: ignore[attr-defined]
    assert "costs.csv:2: cost is" in str(data.bad_rows.examples[0])  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "text",
    [
        case(
            "cost and incident files",
            "an incident file of 100,000 nested JSON arrays",
            "its provider fails: the file nests too deep",
            "[" * 100_000 + "]" * 100_000,
            id="nested arrays",
        ),
        case(
            "cost and incident files",
            "an incident list nested 5,000 deep",
            "its provider fails: the file nests too deep",
            '{"incidents": ' + "[" * 5_000 + "]" * 5_000 + "}",
            id="nested incident list",
        ),
    ],
)
def test_a_json_bomb_of_nested_arrays_is_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "incidents.json").write_text(text)
    with pytest.raises(ProviderError, match=r"incidents\.json.*nests too deep"):
        fetch("incidents_file", "incidents.json", tmp_path)
