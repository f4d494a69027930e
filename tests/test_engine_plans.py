"""The engine's plans give the lines the same values: tag cells parsed once per distinct cell
or on every line, a CUR file read whole or from its unsettled days."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from budget_exporter.model.costs import CostData
from budget_exporter.model.periods import PeriodKind
from budget_exporter.money.budgets import BudgetSpec, CostIndex, evaluate_budget
from budget_exporter.providers.base import ProviderContext
from budget_exporter.providers.cost.aws_cur import AwsCurConfig, AwsCurProvider
from budget_exporter.providers.cost.focus import FocusConfig, FocusProvider
from budget_exporter.providers.support import engine
from test_aws_cur import APRIL, EC2, MONTH, S3, item, write_parquet

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


CUR_AT = datetime(2026, 3, 11, 12, tzinfo=UTC)


def cur_lines(days: range, cost=lambda day, hour: 1.0, invoice: str = "") -> list[dict]:
    """Hourly usage of two services on each day of March 2026, with a tax and a credit line
    spanning the month (they end after any settled day, so every tail read holds them)."""
    lines = []
    for day in days:
        for hour in range(24):
            start = datetime(2026, 3, day, hour)
            for service in (EC2, S3):
                lines.append(
                    item("Usage", cost(day, hour), start, start + timedelta(hours=1), service)
                )
    lines += [item("Tax", 1.5, MONTH, APRIL), item("Credit", -2.0, MONTH, APRIL)]
    return [{**line, "bill_invoice_id": invoice} for line in lines]


def cur_provider(folder: Path, state: Path) -> AwsCurProvider:
    config = AwsCurConfig.model_validate({"type": "aws_cur", "paths": "export.parquet"})
    dimensions = frozenset({"ServiceName", "tags.team"})
    context = ProviderContext(
        "UTC", "USD", str(folder), cache_dir=str(state), dimensions=dimensions
    )
    return AwsCurProvider("cur", config, context)


def reads(source: AwsCurProvider) -> list[pd.Timestamp | None]:
    """Records the ``since`` of every read of ``source`` (None: the whole file)."""
    calls: list[pd.Timestamp | None] = []
    parse = source._parse_file

    def counted(path, since=None):
        calls.append(since)
        return parse(path, since)

    source._parse_file = counted  # type: ignore[method-assign]
    return calls


def same_as_a_whole_read(data: CostData, folder: Path, at: datetime) -> None:
    whole = cur_provider(folder, folder / "other-state").fetch(at)
    columns = sorted(whole.frame.columns)
    assert sorted(data.frame.columns) == columns
    pd.testing.assert_frame_equal(
        data.frame[columns].astype("object"), whole.frame[columns].astype("object")
    )
    assert (data.data_end, data.settled_through) == (whole.data_end, whole.settled_through)
    assert data.bad_rows == whole.bad_rows


@pytest.mark.parametrize(
    "invoice", ["", "EUINIE26-1234"], ids=["the month stays open", "the month gets invoiced"]
)
def test_a_changed_cur_file_is_read_from_its_unsettled_days_with_the_groups_of_a_whole_read(
    tmp_path, invoice
):
    write_parquet(tmp_path / "export.parquet", cur_lines(range(1, 11)))
    source = cur_provider(tmp_path, tmp_path / "state")
    source.fetch(CUR_AT)
    calls = reads(source)
    # The daily rewrite: day 9 corrected, day 11 new, perhaps the invoice of every line.
    changed = {9: 2.0, 11: 3.0}
    rows = cur_lines(range(1, 12), lambda day, hour: changed.get(day, 1.0), invoice)
    write_parquet(tmp_path / "export.parquet", rows)
    later = CUR_AT + timedelta(hours=13)
    data = source.fetch(later)
    # The newest usage ended on the 11th at midnight; minus 3 days: the 8th is settled.
    assert calls == [pd.Timestamp("2026-03-08", tz="UTC") - pd.Timedelta(days=2)]
    same_as_a_whole_read(data, tmp_path, later)
    march = data.frame[data.frame["charge_category"] == "usage"]
    assert march["cost"].sum() == 9 * 48 + 2.0 * 48 + 3.0 * 48
    assert data.data_end == datetime(2026, 3, 12, tzinfo=UTC)
    # An invoiced month is final to its newest data; an open one from its start only.
    open_from = datetime(2026, 3, 1, tzinfo=UTC)
    assert data.settled_through == (data.data_end if invoice else open_from)


def test_a_restart_reads_a_changed_cur_file_from_its_unsettled_days_too(tmp_path):
    write_parquet(tmp_path / "export.parquet", cur_lines(range(1, 11)))
    cur_provider(tmp_path, tmp_path / "state").fetch(CUR_AT)
    write_parquet(tmp_path / "export.parquet", cur_lines(range(1, 12)))
    again = cur_provider(tmp_path, tmp_path / "state")  # the kept groups, a new process
    calls = reads(again)
    later = CUR_AT + timedelta(hours=2)
    data = again.fetch(later)
    assert calls == [pd.Timestamp("2026-03-06", tz="UTC")]
    same_as_a_whole_read(data, tmp_path, later)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ("a day after", "a day after the last whole read, settled days may have been restated"),
        ("bad rows", "a file with bad rows is read whole: they carry no date to settle by"),
        ("no new usage", "no metered line ends after the settled days: the newest is unknown"),
    ],
)
def test_a_changed_cur_file_is_read_whole_when_its_tail_cannot_be_trusted(tmp_path, change, why):
    lines = cur_lines(range(1, 11))
    if change == "bad rows":
        lines.append({**lines[0], "line_item_unblended_cost": float("nan")})
    write_parquet(tmp_path / "export.parquet", lines)
    source = cur_provider(tmp_path, tmp_path / "state")
    source.fetch(CUR_AT)
    calls = reads(source)
    if change == "no new usage":  # the usage of the last days is gone, a fee is added
        lines = [*cur_lines(range(1, 8)), item("Fee", 9.0, MONTH, MONTH)]
    write_parquet(tmp_path / "export.parquet", [*lines, item("Tax", 0.5, MONTH, APRIL)])
    later = CUR_AT + (timedelta(days=1, hours=1) if change == "a day after" else timedelta(hours=1))
    data = source.fetch(later)
    assert calls[-1] is None, why
    same_as_a_whole_read(data, tmp_path, later)


def test_the_first_open_billing_period_of_a_tail_read_is_that_of_the_whole_file(tmp_path):
    # February's lines are settled but not invoiced; March's are: the file is open from Feb 1.
    february = [
        {**line, "bill_billing_period_start_date": datetime(2026, 2, 1)}
        for line in cur_lines(range(1, 2))
        if line["line_item_line_item_type"] == "Usage"
    ]
    for line in february:
        line["line_item_usage_start_date"] -= timedelta(days=28)
        line["line_item_usage_end_date"] -= timedelta(days=28)
    write_parquet(tmp_path / "export.parquet", february + cur_lines(range(1, 11), invoice="I-1"))
    source = cur_provider(tmp_path, tmp_path / "state")
    source.fetch(CUR_AT)
    calls = reads(source)
    write_parquet(tmp_path / "export.parquet", february + cur_lines(range(1, 12), invoice="I-1"))
    data = source.fetch(CUR_AT + timedelta(hours=1))
    assert calls == [pd.Timestamp("2026-03-06", tz="UTC")]
    assert data.settled_through == datetime(2026, 2, 1, tzinfo=UTC)
    same_as_a_whole_read(data, tmp_path, CUR_AT + timedelta(hours=1))


def test_cur_tag_keys_looked_up_in_the_engine_give_the_tags_of_the_parsed_maps(
    tmp_path, monkeypatch
):
    hour = (datetime(2026, 3, 2, 10), datetime(2026, 3, 2, 11))
    maps = [
        ([("user_team", "web")], 1.0),
        ([("team", "db")], 2.0),  # the other key of the same name: user_team wins the column
        ([("user_team", None)], 4.0),  # present without a value
        ([("user_owner", "o'brien"), ("aws_createdBy", "root")], 8.0),
        ([], 16.0),
    ]
    lines = [{**item("Usage", cost, *hour), "resource_tags": tags} for tags, cost in maps]
    write_parquet(tmp_path / "export.parquet", lines)
    config = AwsCurConfig.model_validate({"type": "aws_cur", "paths": "export.parquet"})
    wanted = frozenset({"tags.team", "tags.owner", "tags.cost_center"})
    context = ProviderContext("UTC", "USD", str(tmp_path), dimensions=wanted)
    looked_up = AwsCurProvider("cur", config, context).fetch(CUR_AT).frame
    monkeypatch.setattr(AwsCurProvider, "_map_keys", lambda self, kind: [])
    parsed = AwsCurProvider("cur", config, context).fetch(CUR_AT).frame
    pd.testing.assert_frame_equal(looked_up, parsed)
    assert "tags.cost_center" not in looked_up.columns  # no line has the key
    by_team = looked_up.groupby("tags.team", observed=True)["cost"].sum().to_dict()
    assert by_team == {"web": 1.0, "": 2.0 + 4.0 + 8.0 + 16.0}
    by_owner = looked_up.groupby("tags.owner", observed=True)["cost"].sum().to_dict()
    assert by_owner == {"o'brien": 8.0, "": 1.0 + 2.0 + 4.0 + 16.0}
