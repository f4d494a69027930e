"""The FOCUS provider on the FOCUS 1.0 sample as it is, checked against totals computed here.

The expected values are worked out with the csv and json modules only, row by row: a row's cost
is spread evenly over its charge period and counts for the part of it before ``now``; a
one-time charge counts in full once its start has passed.
"""

import csv
import gzip
import json
import math
import shutil
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from budget_exporter.budgets import BudgetSpec, CostIndex, evaluate_budget, spend_between
from budget_exporter.cli import main
from budget_exporter.errors import ProviderError
from budget_exporter.periods import PeriodKind
from budget_exporter.providers.base import CostData, ProviderContext
from budget_exporter.providers.focus import FocusConfig, FocusProvider

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
    return sample_rows()


@pytest.fixture(scope="module")
def sample() -> CostData:
    return fetch(SAMPLE)


def test_the_sample_is_read_whole_without_bad_rows(rows, sample):
    assert sample.bad_rows.count == 0
    assert sample.sources == 1
    # Every row lies in September: the whole month adds up to the plain sum of BilledCost.
    everything = CostIndex(sample.frame)
    all_rows = everything.costs == everything.costs
    total = spend_between(everything, all_rows, SEPTEMBER_1, OCTOBER_1)
    assert total == pytest.approx(math.fsum(float(row["BilledCost"]) for row in rows), abs=1e-9)
    assert sample.data_end == max(moment(row["ChargePeriodEnd"]) for row in rows)


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
    # At noon on 19 September, the daily rows of that day count half, the hourly rows in full.
    noon = datetime(2024, 9, 19, 12, tzinfo=UTC)
    half_days = math.fsum(
        float(row["BilledCost"]) / 2
        for row in rows
        if row["ChargePeriodStart"] == "2024-09-19 00:00:00"
        and row["ChargePeriodEnd"] == "2024-09-20 00:00:00"
    )
    whole_hours = math.fsum(
        float(row["BilledCost"])
        for row in rows
        if moment(row["ChargePeriodEnd"]) - moment(row["ChargePeriodStart"])
        == OCTOBER_1 - datetime(2024, 9, 30, 23, tzinfo=UTC)
        and moment(row["ChargePeriodEnd"]) <= noon
    )
    earlier_days = math.fsum(
        float(row["BilledCost"])
        for row in rows
        if row["ChargePeriodEnd"] != row["ChargePeriodStart"]
        and moment(row["ChargePeriodEnd"]) - moment(row["ChargePeriodStart"])
        == OCTOBER_1 - datetime(2024, 9, 30, tzinfo=UTC)
        and moment(row["ChargePeriodEnd"]) <= datetime(2024, 9, 19, tzinfo=UTC)
    )
    assert half_days != 0
    assert spend(sample, noon) == pytest.approx(half_days + whole_hours + earlier_days, rel=1e-9)


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
    # Services whose every row lies after now have no spend yet and no series.
    started = {
        name
        for name in expected
        if any(row["ServiceName"] == name and moment(row["ChargePeriodStart"]) < AT for row in rows)
    }
    assert set(got) == started
    for name in started:
        assert got[name] == pytest.approx(expected[name], rel=1e-9, abs=1e-12), name


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
    return_line: list[str] = []
    writer = csv.writer(_Collect(return_line), lineterminator="\n")
    writer.writerow(cells)
    return return_line[0]


class _Collect:
    """A file-like target that keeps what csv.writer writes."""

    def __init__(self, into: list[str]):
        self.into = into

    def write(self, text: str) -> None:
        self.into.append(text)


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
    assert f"{bad_file}:6:" in str(data.bad_rows.examples[0]) or any(
        str(row).startswith(f"{bad_file}:6: ") for row in data.bad_rows.examples
    )
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
