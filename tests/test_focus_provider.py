"""The FOCUS provider on the FOCUS 1.0 sample as it is, checked against totals computed here.

The expected values are worked out with the csv and json modules only, row by row: a row's cost
is spread evenly over its charge period and counts for the part of it before ``now``; a
one-time charge counts in full once its start has passed.
"""

import csv
import gzip
import io
import json
import math
import os
import shutil
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from budget_exporter.cli.commands import main
from budget_exporter.model.costs import CostData
from budget_exporter.model.errors import ProviderError
from budget_exporter.model.periods import PeriodKind
from budget_exporter.money.budgets import BudgetSpec, CostIndex, evaluate_budget, spend_between
from budget_exporter.providers.base import ProviderContext
from budget_exporter.providers.cost.focus import FocusConfig, FocusProvider

SAMPLE = Path(__file__).resolve().parents[2] / "shared/data/focus-1.0-sample/focus_sample.csv"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
UTC_ZONE = ZoneInfo("UTC")
SEPTEMBER_1 = datetime(2024, 9, 1, tzinfo=UTC)
OCTOBER_1 = datetime(2024, 10, 1, tzinfo=UTC)
AT = datetime(2024, 9, 20, 12, tzinfo=UTC)

pytestmark = pytest.mark.skipif(not SAMPLE.exists(), reason="FOCUS sample data is not present")

Row = dict[str, str]


def sample_rows() -> list[Row]:
    """The sample's rows as text, read with the csv module."""
    with SAMPLE.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def moment(text: str) -> datetime:
    """A FOCUS date-time (UTC without an offset)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def share_before(row: Row, start: datetime, now: datetime) -> float:
    """Share of a row's cost in ``[start, now)``."""
    begins, ends = moment(row["ChargePeriodStart"]), moment(row["ChargePeriodEnd"])
    if row["ChargeFrequency"].lower() == "one-time":
        return 1.0 if start <= begins < now else 0.0
    overlap = (min(ends, now) - max(begins, start)).total_seconds()
    return max(overlap, 0.0) / (ends - begins).total_seconds()


def expected_spend(
    rows: list[Row],
    now: datetime,
    keep: Callable[[Row], bool] = lambda row: True,
    column: str = "BilledCost",
) -> float:
    """Month-to-date spend of the kept rows at ``now``."""
    return math.fsum(
        float(row[column]) * share_before(row, SEPTEMBER_1, now) for row in rows if keep(row)
    )


def tag(row: Row, key: str) -> str | None:
    """A tag's value from the row's JSON Tags cell."""
    if row["Tags"] in ("", "NULL"):
        return None
    return json.loads(row["Tags"]).get(key)


def fetch(path: Path, **settings) -> CostData:
    """One fetch of a FOCUS provider reading ``path``."""
    config = FocusConfig(type="focus", paths=(str(path),), **settings)
    context = ProviderContext(timezone="UTC", currency="USD", base_dir=str(path.parent))
    return FocusProvider("billing", config, context).fetch(AT)


def spend(data: CostData, now: datetime, **options) -> float:
    """Month-to-date spend of a monthly budget over ``data`` at ``now``."""
    budget = BudgetSpec(name="b", amount=100.0, period=PeriodKind.MONTHLY, **options)
    return evaluate_budget(budget, CostIndex(data.frame), now, UTC_ZONE, data.data_end).spend


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    """The sample's rows, read once."""
    return sample_rows()


@pytest.fixture(scope="module")
def sample() -> CostData:
    """The sample as the provider reads it, once."""
    return fetch(SAMPLE)


def test_the_sample_is_read_whole_without_bad_rows(rows, sample):
    assert sample.bad_rows.count == 0
    assert sample.sources == 1
    # Every row lies in September: the whole month adds up to the plain sum of BilledCost.
    everything = CostIndex(sample.frame)
    all_rows = np.ones(len(everything), dtype=bool)
    total = spend_between(everything, all_rows, SEPTEMBER_1, OCTOBER_1)
    assert total == pytest.approx(math.fsum(float(row["BilledCost"]) for row in rows), abs=1e-9)
    # Rows starting after the fetch (beyond the clock skew) do not make the data look newer.
    started = [row for row in rows if moment(row["ChargePeriodStart"]) <= AT + timedelta(hours=1)]
    assert sample.data_end == max(moment(row["ChargePeriodEnd"]) for row in started)


@pytest.mark.parametrize(
    ("now", "keep", "options"),
    [
        (AT, lambda row: True, {}),
        (datetime(2024, 9, 19, 12, tzinfo=UTC), lambda row: True, {}),
        (
            AT,
            lambda row: row["ServiceName"] == "Amazon Simple Queue Service",
            {"filter": {"ServiceName": ("Amazon Simple Queue Service",)}},
        ),
        (
            AT,
            lambda row: tag(row, "environment") == "dev",
            {"filter": {"tags.environment": ("dev",)}},
        ),
        (
            AT,
            lambda row: row["ProviderName"] in ("Microsoft", "Oracle"),
            {"filter": {"ProviderName": ("Microsoft", "Oracle")}},
        ),
        (
            datetime(2024, 9, 30, 12, tzinfo=UTC),
            lambda row: row["ChargeCategory"] != "Credit",
            {"excluded_categories": frozenset({"credit"})},
        ),
        (
            datetime(2024, 9, 30, 12, tzinfo=UTC),
            lambda row: row["ChargeCategory"] == "Credit",
            {"filter": {"ChargeCategory": ("credit",)}},
        ),
        (
            datetime(2024, 9, 30, 12, tzinfo=UTC),
            lambda row: row["ChargeCategory"] == "Adjustment",
            {"filter": {"ChargeCategory": ("refund",)}},
        ),
        (
            AT,
            lambda row: tag(row, "env") == "prod" and row["RegionId"] == "us-east-1",
            {"filter": {"tags.env": ("prod",), "RegionId": ("us-east-1",)}},
        ),
    ],
    ids=[
        "all spend before noon on 20 September",
        "daily rows of 19 September count half at noon that day",
        "a ServiceName filter matches the service's rows",
        "a tag filter matches rows whose Tags JSON has environment dev",
        "several ProviderName values are alternatives",
        "excluding credits leaves out the one-time credit",
        "the credit alone is negative",
        "FOCUS adjustments count as refunds",
        "a tag and a column filter must both match",
    ],
)
def test_month_to_date_spend_matches_a_row_by_row_sum(rows, sample, now, keep, options):
    expected = expected_spend(rows, now, keep)
    assert spend(sample, now, **options) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_the_credit_is_negative_and_lowers_the_month(rows, sample):
    end_of_month = datetime(2024, 9, 30, 12, tzinfo=UTC)
    credit = spend(sample, end_of_month, filter={"ChargeCategory": ("credit",)})
    assert credit == pytest.approx(-2.6137)
    assert spend(sample, end_of_month) == pytest.approx(
        spend(sample, end_of_month, excluded_categories=frozenset({"credit"})) + credit
    )


def test_a_row_spanning_a_day_counts_pro_rata(rows, sample):
    # At noon on 19 September the rows charged for that whole day count half; every row that
    # ended by noon counts in full (hourly rows start on the hour, so none is cut at noon).
    noon = datetime(2024, 9, 19, 12, tzinfo=UTC)
    that_day = (datetime(2024, 9, 19, tzinfo=UTC), datetime(2024, 9, 20, tzinfo=UTC))
    halves = [
        float(row["BilledCost"]) / 2
        for row in rows
        if (moment(row["ChargePeriodStart"]), moment(row["ChargePeriodEnd"])) == that_day
    ]
    ended = [float(row["BilledCost"]) for row in rows if moment(row["ChargePeriodEnd"]) <= noon]
    assert len(halves) == 4
    assert spend(sample, noon) == pytest.approx(math.fsum(halves) + math.fsum(ended), rel=1e-9)


def test_breakdown_by_service_matches_sums_per_service_name(rows, sample):
    expected: dict[str, float] = defaultdict(float)
    for row in rows:
        expected[row["ServiceName"]] += float(row["BilledCost"]) * share_before(
            row, SEPTEMBER_1, AT
        )
    budget = BudgetSpec(
        name="b",
        amount=100.0,
        period=PeriodKind.MONTHLY,
        breakdown_dimensions=("ServiceName",),
        breakdown_top=100,
    )
    status = evaluate_budget(budget, CostIndex(sample.frame), AT, UTC_ZONE, sample.data_end)
    got = dict(status.breakdown["ServiceName"])
    # Services whose every row lies after now, or that cost nothing, have no series.
    started = {
        name
        for name in expected
        if any(row["ServiceName"] == name and moment(row["ChargePeriodStart"]) < AT for row in rows)
        and abs(expected[name]) >= 1e-9
    }
    assert set(got) == started
    for name in started:
        assert got[name] == pytest.approx(expected[name], rel=1e-9, abs=1e-12), name


def test_literal_null_cells_are_missing_values_not_text(rows, sample):
    # RegionId is the literal NULL on some rows and empty on others: both are "none".
    end_of_month = datetime(2024, 9, 30, 12, tzinfo=UTC)
    expected: dict[str, float] = defaultdict(float)
    for row in rows:
        region = row["RegionId"] if row["RegionId"] not in ("", "NULL") else "none"
        expected[region] += float(row["BilledCost"]) * share_before(row, SEPTEMBER_1, end_of_month)
    assert expected["none"] != 0
    budget = BudgetSpec(
        name="b",
        amount=100.0,
        period=PeriodKind.MONTHLY,
        breakdown_dimensions=("RegionId",),
        breakdown_top=100,
    )
    status = evaluate_budget(budget, CostIndex(sample.frame), end_of_month, UTC_ZONE, None)
    got = dict(status.breakdown["RegionId"])
    assert "NULL" not in got
    # Regions that cost nothing get no series.
    assert set(got) == {region for region, amount in expected.items() if abs(amount) >= 1e-9}
    for region, amount in expected.items():
        if abs(amount) < 1e-9:
            continue
        assert got[region] == pytest.approx(amount, rel=1e-9, abs=1e-12), region


def test_cost_column_picks_effective_cost(rows):
    data = fetch(SAMPLE, cost_column="EffectiveCost")
    end_of_month = datetime(2024, 9, 30, 12, tzinfo=UTC)
    assert spend(data, end_of_month) == pytest.approx(
        expected_spend(rows, end_of_month, column="EffectiveCost"), rel=1e-9
    )
    # The credit is worth 3.00 at its effective cost against 2.6137 billed.
    assert spend(data, end_of_month, filter={"ChargeCategory": ("credit",)}) == pytest.approx(-3.0)


def test_a_gzip_copy_reads_the_same(tmp_path, rows, sample):
    copy = tmp_path / "focus_sample.csv.gz"
    with SAMPLE.open("rb") as source, gzip.open(copy, "wb") as target:
        shutil.copyfileobj(source, target)
    data = fetch(copy)
    assert data.bad_rows.count == 0
    assert spend(data, AT) == pytest.approx(expected_spend(rows, AT), rel=1e-9)
    assert data.data_end == sample.data_end


def test_a_typed_parquet_copy_reads_the_same(tmp_path, rows, sample):
    # Parquet exports carry real types: numbers, timestamps and nulls instead of "NULL".
    frame = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False, na_values=["NULL"])
    for column in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
        frame[column] = frame[column].astype("float64")
    for column in ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    copy = tmp_path / "focus_sample.parquet"
    frame.to_parquet(copy)
    data = fetch(copy)
    assert data.bad_rows.count == 0
    assert spend(data, AT) == pytest.approx(expected_spend(rows, AT), rel=1e-9)
    dev = {"filter": {"tags.environment": ("dev",)}}
    assert spend(data, AT, **dev) == pytest.approx(
        expected_spend(rows, AT, lambda row: tag(row, "environment") == "dev"), rel=1e-9
    )
    assert data.data_end == sample.data_end


def write_lines(path: Path, lines: list[str]) -> Path:
    """Write CSV lines as they are."""
    path.write_text("".join(lines), encoding="utf-8")
    return path


def replace_cell(line: str, header: list[str], column: str, value: str) -> str:
    """The CSV line with one cell replaced."""
    cells = next(csv.reader([line]))
    cells[header.index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


def test_bad_rows_are_counted_with_file_and_line(tmp_path, rows):
    lines = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    header = next(csv.reader([lines[0]]))
    # Line numbers count the header as line 1: data row i is on line i + 2.
    lines[5] = replace_cell(lines[5], header, "BilledCost", "12,5 EUR")
    lines[10] = replace_cell(lines[10], header, "ChargePeriodStart", "yesterday")
    lines[20] = replace_cell(lines[20], header, "Tags", "{not json")
    bad_file = write_lines(tmp_path / "bad.csv", lines)

    data = fetch(bad_file)

    assert data.bad_rows.count == 3
    assert {(row.source, row.line) for row in data.bad_rows.examples} == {
        (str(bad_file), 6),
        (str(bad_file), 11),
        (str(bad_file), 21),
    }
    reasons = {row.line: row.reason for row in data.bad_rows.examples}
    assert "BilledCost" in reasons[6]
    assert "ChargePeriodStart" in reasons[11]
    assert "Tags" in reasons[21]
    assert f"{bad_file}:6: BilledCost is not a number" in {
        str(row) for row in data.bad_rows.examples
    }
    # The rows with a bad cost or date are left out; the row with bad tags is kept.
    kept = [row for index, row in enumerate(rows) if index + 2 not in (6, 11)]
    end_of_month = datetime(2024, 9, 30, 12, tzinfo=UTC)
    assert spend(data, end_of_month) == pytest.approx(expected_spend(kept, end_of_month), rel=1e-9)


def test_a_file_without_the_cost_column_is_refused_naming_the_file(tmp_path):
    frame = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False).drop(columns=["BilledCost"])
    broken = tmp_path / "no-cost.csv"
    frame.to_csv(broken, index=False)
    with pytest.raises(ProviderError) as caught:
        fetch(broken)
    assert str(broken) in str(caught.value)
    assert "BilledCost" in str(caught.value)


def test_a_path_matching_no_file_is_refused(tmp_path):
    with pytest.raises(ProviderError, match="no file matches"):
        fetch(tmp_path / "missing-*.csv")


def test_once_serves_the_sample_spend_at_a_fixed_time(capsys, rows):
    # tests/fixtures/focus.yml: all-cloud, sqs (Amazon SQS only) and dev-environment budgets.
    code = main(
        ["once", "--config.file", str(FIXTURES / "focus.yml"), "--at", "2024-09-20T12:00:00Z"]
    )
    output = capsys.readouterr().out
    assert code == 0
    spends = {
        sample.labels["budget"]: sample.value
        for family in text_string_to_metric_families(output)
        if family.name == "budget_spend"
        for sample in family.samples
    }
    assert spends == pytest.approx(
        {
            "all-cloud": expected_spend(rows, AT),
            "sqs": expected_spend(
                rows, AT, lambda row: row["ServiceName"] == "Amazon Simple Queue Service"
            ),
            "dev-environment": expected_spend(
                rows, AT, lambda row: tag(row, "environment") == "dev"
            ),
        },
        rel=1e-9,
    )


def minimal_focus(path: Path, *rows: str, header: str = "ChargePeriodStart,BilledCost") -> Path:
    """A small FOCUS-like CSV with the given header and rows."""
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_a_file_with_only_the_required_columns_gets_defaults(tmp_path):
    path = minimal_focus(tmp_path / "min.csv", "2024-09-02T10:00:00Z,1.5", "2024-09-02T11:00:00Z,2")
    data = fetch(path)
    frame = data.frame
    # No ChargePeriodEnd: each row is one hour; no BillingCurrency: the reporting currency.
    assert list(frame["end"] - frame["start"]) == [pd.Timedelta(hours=1)] * 2
    assert set(frame["currency"].astype(str)) == {"USD"}
    assert set(frame["charge_category"].astype(str)) == {"usage"}
    assert data.data_end == datetime(2024, 9, 2, 12, tzinfo=UTC)
    assert spend(data, AT) == pytest.approx(3.5)


@pytest.mark.parametrize(
    ("end", "frequency", "expected_hours"),
    [
        ("2024-09-02T09:00:00Z", "Usage-Based", 1),
        ("NULL", "Usage-Based", 1),
        ("2024-09-03T10:00:00Z", "Usage-Based", 24),
        ("2024-10-02T10:00:00Z", "One-Time", 0),
        ("2024-10-02T10:00:00Z", "Recurring", 30 * 24),
    ],
    ids=[
        "an end before the start is taken as one hour",
        "a NULL end is taken as one hour",
        "a daily charge period is kept",
        "a one-time charge ends where it starts",
        "a recurring monthly charge spans its month",
    ],
)
def test_charge_period_ends(tmp_path, end, frequency, expected_hours):
    path = minimal_focus(
        tmp_path / "ends.csv",
        f"2024-09-02T10:00:00Z,{end},{frequency},7.2",
        header="ChargePeriodStart,ChargePeriodEnd,ChargeFrequency,BilledCost",
    )
    frame = fetch(path).frame
    assert list(frame["end"] - frame["start"]) == [pd.Timedelta(hours=expected_hours)]


@pytest.mark.parametrize(
    "tags",
    ['"[""a"", ""b""]"', '"""just text"""', "{broken"],
    ids=["a JSON list is not a tag object", "a JSON string is not a tag object", "broken JSON"],
)
def test_tags_that_are_not_a_json_object_are_a_bad_row_kept_without_tags(tmp_path, tags):
    path = minimal_focus(
        tmp_path / "tags.csv",
        '2024-09-02T10:00:00Z,5,"{""team"": ""web""}"',
        f"2024-09-02T11:00:00Z,7,{tags}",
        header="ChargePeriodStart,BilledCost,Tags",
    )
    data = fetch(path)
    assert data.bad_rows.count == 1
    assert data.bad_rows.examples[0].line == 3
    assert spend(data, AT) == pytest.approx(12.0)
    assert spend(data, AT, filter={"tags.team": ("web",)}) == pytest.approx(5.0)


def test_a_corrupt_parquet_file_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "export.parquet"
    path.write_bytes(b"PAR1 this is not a parquet file PAR1")
    with pytest.raises(ProviderError) as caught:
        fetch(path)
    assert f"cannot read {path}" in str(caught.value)


def test_files_are_reread_only_when_they_change_and_dropped_when_gone(tmp_path):
    first = minimal_focus(tmp_path / "a.csv", "2024-09-02T10:00:00Z,1.0")
    minimal_focus(tmp_path / "b.csv", "2024-09-03T10:00:00Z,2.0")
    config = FocusConfig(type="focus", paths=("*.csv",))
    provider = FocusProvider("billing", config, ProviderContext("UTC", "USD", str(tmp_path)))
    assert spend(provider.fetch(AT), AT) == pytest.approx(3.0)
    parsed = []
    parse = provider.parse_file
    provider.parse_file = lambda path, *args, **kw: (
        parsed.append(path.name) or parse(path, *args, **kw)
    )
    assert spend(provider.fetch(AT), AT) == pytest.approx(3.0)
    assert parsed == []  # unchanged: the parsed copies are reused

    # Same size and modification time, other bytes (a copy keeping times, a coarse clock):
    # the hash of the file's first and last MiB tells, so it is read again.
    stat = first.stat()
    first.write_text("ChargePeriodStart,BilledCost\n2024-09-02T10:00:00Z,9.0\n", encoding="utf-8")
    os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert first.stat().st_size == stat.st_size
    assert spend(provider.fetch(AT), AT) == pytest.approx(11.0)
    assert parsed == ["a.csv"]

    # A billing system rewriting a provisional day changes the size: it is read again.
    first.write_text("ChargePeriodStart,BilledCost\n2024-09-02T10:00:00Z,10.5\n", encoding="utf-8")
    assert spend(provider.fetch(AT), AT) == pytest.approx(12.5)

    first.unlink()
    data = provider.fetch(AT)
    assert data.sources == 1
    assert spend(data, AT) == pytest.approx(2.0)


def test_tag_cells_that_are_not_json_objects_are_bad_rows_kept_without_tags(tmp_path):
    path = minimal_focus(
        tmp_path / "tags.csv",
        '2024-09-02T10:00:00Z,1.0,"{""team"": ""web""}"',
        '2024-09-02T11:00:00Z,2.0,"[1, 2]"',
        "2024-09-02T12:00:00Z,4.0,not json",
        "2024-09-02T13:00:00Z,8.0,",
        "2024-09-02T14:00:00Z,16.0,NULL",
        '2024-09-02T15:00:00Z,32.0,"  {""team"": 7} "',
        header="ChargePeriodStart,BilledCost,Tags",
    )
    data = fetch(path)
    reason = "Tags is not a JSON object (row kept without tags)"
    assert [(row.line, row.reason) for row in data.bad_rows.examples] == [
        (3, reason),
        (4, reason),
    ]
    assert spend(data, AT) == pytest.approx(63.0)
    assert spend(data, AT, filter={"tags.team": ("web",)}) == pytest.approx(1.0)
    assert spend(data, AT, filter={"tags.team": ("7",)}) == pytest.approx(32.0)
