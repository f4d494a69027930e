"""The engine's plans give the lines the same values: tag cells parsed once per distinct cell
or on every line, a CUR file read whole or from its unsettled days."""

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from budget_exporter.model.costs import CostData
from budget_exporter.model.periods import PeriodKind
from budget_exporter.money.budgets import BudgetSpec, CostIndex, evaluate_budget
from budget_exporter.providers.base import ProviderContext
from budget_exporter.providers.cost.focus import FocusConfig, FocusProvider
from budget_exporter.providers.support import engine

AT = datetime(2024, 9, 20, 12, tzinfo=UTC)
BAD_TAGS = "Tags is not a JSON object (row kept without tags)"

# Tag cells, how many lines hold each, and the cost of each such line.
CELLS = [
    ('{"team": "web"}', 10, 1.0),
    ('{"team": "web", "env": "prod"}', 5, 2.0),
    ("[1, 2]", 3, 4.0),  # JSON, not an object: a bad row
    ("not json", 2, 8.0),  # a bad row
    ("", 2, 16.0),  # empty: no tags
    (None, 2, 32.0),  # missing: no tags
    ("NULL", 1, 64.0),  # FOCUS's literal null: no tags
    ('  {"team": 7} ', 2, 128.0),  # a number, read as its text
    ('{"Team": "x"}', 1, 256.0),  # keys match exactly: no team
]


def tagged_lines() -> list[tuple[str | None, float]]:
    """The lines of CELLS, interleaved: the cells of one kind are not next to each other."""
    queue = [[(cell, cost)] * count for cell, count, cost in CELLS]
    lines = []
    while any(queue):
        for waiting in queue:
            if waiting:
                lines.append(waiting.pop())
    return lines


def write_focus_parquet(path: Path, lines: list[tuple[str | None, float]]) -> Path:
    """A FOCUS Parquet file with one hourly line per (Tags, BilledCost) on September 2nd."""
    start = pd.Timestamp("2024-09-02", tz="UTC")
    frame = pd.DataFrame(
        {
            "ChargePeriodStart": [start + pd.Timedelta(hours=i % 24) for i in range(len(lines))],
            "BilledCost": [cost for _, cost in lines],
            "Tags": pd.Series([cell for cell, _ in lines], dtype="object"),
        }
    )
    frame.to_parquet(path)
    return path


def read(path: Path) -> CostData:
    """A FOCUS provider's read of ``path`` for budgets that filter on tags.team."""
    config = FocusConfig(type="focus", paths=(str(path),))
    context = ProviderContext("UTC", "USD", str(path.parent), dimensions=frozenset({"tags.team"}))
    return FocusProvider("billing", config, context).fetch(AT)


def spend(data: CostData, **options) -> float:
    budget = BudgetSpec(name="b", amount=100.0, period=PeriodKind.MONTHLY, **options)
    return evaluate_budget(budget, CostIndex(data.frame), AT, UTC, data.data_end).spend


@pytest.mark.parametrize(
    "share", [0.0, 1.0], ids=["parsed on every line", "parsed once per distinct cell"]
)
def test_tag_cells_give_the_same_tags_and_bad_rows_whichever_plan_parses_them(
    tmp_path, monkeypatch, share
):
    monkeypatch.setattr(engine, "MAX_DISTINCT_SHARE", share)
    lines = tagged_lines()
    data = read(write_focus_parquet(tmp_path / "bill.parquet", lines))
    bad_lines = [n for n, (cell, _) in enumerate(lines, 1) if cell in ("[1, 2]", "not json")]
    assert data.bad_rows.count == 5
    assert [(row.line, row.reason) for row in data.bad_rows.examples] == [
        (line, BAD_TAGS) for line in bad_lines
    ]
    # Bad tag cells are kept without tags: every line counts.
    assert spend(data) == 10 + 10 + 12 + 16 + 32 + 64 + 64 + 256 + 256
    assert spend(data, filter={"tags.team": ("web",)}) == 10 + 10
    assert spend(data, filter={"tags.team": ("7",)}) == 256
    assert spend(data, filter={"tags.team": ("x",)}) == 0


def test_both_plans_give_identical_groups(tmp_path, monkeypatch):
    path = write_focus_parquet(tmp_path / "bill.parquet", tagged_lines())
    monkeypatch.setattr(engine, "MAX_DISTINCT_SHARE", 0.0)
    each_line = read(path)
    monkeypatch.setattr(engine, "MAX_DISTINCT_SHARE", 1.0)
    each_cell = read(path)
    pd.testing.assert_frame_equal(each_line.frame, each_cell.frame)
    assert each_line.bad_rows == each_cell.bad_rows


@pytest.mark.parametrize(
    ("cells", "repeats"),
    [
        (["a", "b"] * 50, True),  # 2 distinct cells in 100 lines
        ([f"cell {n}" for n in range(100)], False),  # every cell its own
        ([f"cell {n % 30}" for n in range(100)], False),  # 30 in 100: above a quarter
        ([None] * 100, True),  # all missing
    ],
    ids=["two cells", "every cell distinct", "30 in 100", "all missing"],
)
def test_cells_are_parsed_once_each_only_when_they_repeat(tmp_path, cells, repeats):
    path = tmp_path / "cells.parquet"
    pd.DataFrame({"Tags": pd.Series(cells, dtype="object")}).to_parquet(path)
    limits = engine.ReadLimits()
    source = engine._source(path, limits)
    with engine._connect(limits) as connection:
        assert engine._repeats(connection, source, "Tags") is repeats
