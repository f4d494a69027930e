"""The csv provider: column mapping, local days, currencies, bad rows."""

import gzip
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from pydantic import ValidationError

from budget_exporter.config.loader import parse_config
from budget_exporter.model.costs import CostData, normalize
from budget_exporter.model.errors import ProviderError
from budget_exporter.model.periods import PeriodKind
from budget_exporter.money.budgets import BudgetSpec, CostIndex, evaluate_budget
from budget_exporter.money.currency import to_reporting_currency
from budget_exporter.providers.base import ProviderContext
from budget_exporter.providers.cost.csvfile import CsvConfig, CsvProvider
from budget_exporter.service.refresh import Refresher

NOW = datetime(2024, 11, 20, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    """A UTC moment from year, month, day[, hour]."""
    return datetime(*parts, tzinfo=UTC)


def write(path: Path, *lines: str) -> Path:
    """Write a small CSV file, one argument per line."""
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fetch(folder: Path, zone: str = "UTC", now: datetime = NOW, **settings) -> CostData:
    """One fetch at ``now`` of a csv provider whose relative paths resolve in ``folder``."""
    config = CsvConfig.model_validate({"type": "csv", **settings})
    context = ProviderContext(timezone=zone, currency="USD", base_dir=str(folder))
    return CsvProvider("costs", config, context).fetch(now)


def spend(data: CostData, now: datetime, zone: str = "UTC", **options) -> float:
    """Month-to-date spend of a monthly budget over ``data``."""
    budget = BudgetSpec(name="b", amount=1.0, period=PeriodKind.MONTHLY, **options)
    index = CostIndex(data.frame)
    return evaluate_budget(budget, index, now, ZoneInfo(zone), data.data_end).spend


@pytest.mark.parametrize(
    ("dimensions", "columns"),
    [
        (["Service", "Team"], {"Service", "Team"}),
        ({"ServiceName": "Service", "tags.team": "Team"}, {"ServiceName", "tags.team"}),
        ({"ServiceName": "Service"}, {"ServiceName"}),
    ],
    ids=[
        "a list keeps the column names as dimensions",
        "a mapping renames columns to the shared vocabulary",
        "columns left out of the mapping are not dimensions",
    ],
)
def test_dimensions_come_from_the_column_mapping(tmp_path, dimensions, columns):
    write(
        tmp_path / "costs.csv",
        "Day,Amount,Service,Team,Note",
        "2024-11-01,10.5,compute,web,first",
        "2024-11-02,4.5,storage,data,second",
    )
    data = fetch(
        tmp_path,
        paths=["costs.csv"],
        date_column="Day",
        cost_column="Amount",
        dimensions=dimensions,
    )
    fixed = {"start", "end", "cost", "currency", "charge_category"}
    assert set(data.frame.columns) - fixed == columns
    service = "Service" if "Service" in columns else "ServiceName"
    assert spend(data, NOW) == pytest.approx(15.0)
    assert spend(data, NOW, filter={service: ("compute",)}) == pytest.approx(10.5)


@pytest.mark.parametrize(
    ("zone", "day", "start", "end"),
    [
        ("UTC", "2024-11-02", utc(2024, 11, 2), utc(2024, 11, 3)),
        ("Europe/Paris", "2024-03-31", utc(2024, 3, 30, 23), utc(2024, 3, 31, 22)),
        ("Europe/Paris", "2024-10-27", utc(2024, 10, 26, 22), utc(2024, 10, 27, 23)),
        ("America/New_York", "2024-11-03", utc(2024, 11, 3, 4), utc(2024, 11, 4, 5)),
        ("Asia/Tokyo", "2024-09-01", utc(2024, 8, 31, 15), utc(2024, 9, 1, 15)),
        ("America/Sao_Paulo", "2018-11-04", utc(2018, 11, 4, 3), utc(2018, 11, 5, 2)),
    ],
    ids=[
        "a UTC day is midnight to midnight UTC",
        "the Paris day of the change to summer time covers 23 hours",
        "the Paris day of the change to winter time covers 25 hours",
        "the New York day of the change to winter time covers 25 hours",
        "a Tokyo day starts at 15:00 UTC the day before",
        "a day whose local midnight does not exist starts at 01:00",
    ],
)
def test_a_date_is_a_local_day_in_the_time_zone(tmp_path, zone, day, start, end):
    write(tmp_path / "costs.csv", "date,cost", f"{day},24")
    data = fetch(tmp_path, paths=["costs.csv"], timezone=zone)
    assert list(data.frame["start"]) == [pd.Timestamp(start)]
    assert list(data.frame["end"]) == [pd.Timestamp(end)]
    assert data.data_end == end


def test_the_global_time_zone_applies_when_the_provider_sets_none(tmp_path):
    write(tmp_path / "costs.csv", "date,cost", "2024-03-31,23")
    data = fetch(tmp_path, zone="Europe/Paris", paths=["costs.csv"])
    assert data.frame["start"].iloc[0] == pd.Timestamp(utc(2024, 3, 30, 23))
    # Noon in Paris on the 23-hour day: 11 of its 23 hours have passed, so 11 of 23 count.
    assert spend(data, utc(2024, 3, 31, 10), "Europe/Paris") == pytest.approx(11.0)


def test_a_date_with_a_time_is_one_hour(tmp_path):
    write(tmp_path / "costs.csv", "date,cost", "2024-11-02T10:00:00Z,6", "2024-11-02T11:00:00Z,4")
    data = fetch(tmp_path, paths=["costs.csv"])
    assert list(data.frame["end"] - data.frame["start"]) == [pd.Timedelta(hours=1)] * 2
    assert spend(data, utc(2024, 11, 2, 11)) == pytest.approx(6.0)


@pytest.mark.parametrize(
    ("first", "second", "start", "end"),
    [
        ("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", utc(2026, 11, 1), utc(2026, 11, 3)),
        (
            "2026-11-01T00:00:00+01:00",
            "2026-11-02T00:00:00+01:00",
            utc(2026, 10, 31, 23),
            utc(2026, 11, 2, 23),
        ),
    ],
    ids=["midnights in UTC", "midnights in their own offset, not the exporter's zone"],
)
def test_midnights_with_a_time_zone_are_daily_rows(tmp_path, first, second, start, end):
    write(tmp_path / "costs.csv", "date,cost", f"{first},24", f"{second},24")
    data = fetch(tmp_path, now=utc(2026, 11, 20), paths=["costs.csv"])
    assert list(data.frame["end"] - data.frame["start"]) == [pd.Timedelta(days=1)] * 2
    assert data.frame["start"].min() == pd.Timestamp(start)
    assert data.data_end == end


def test_daily_rows_with_a_time_zone_do_not_inflate_the_first_day(tmp_path):
    write(tmp_path / "costs.csv", "date,cost", "2026-11-01T00:00:00Z,24")
    data = fetch(tmp_path, now=utc(2026, 11, 20), paths=["costs.csv"])
    # Six hours into the day, a quarter of the day's cost has been spent, not all of it.
    assert spend(data, utc(2026, 11, 1, 6)) == pytest.approx(6.0)


def test_granularity_hourly_makes_midnight_rows_one_hour(tmp_path):
    write(tmp_path / "costs.csv", "date,cost", "2026-11-01,6", "2026-11-02,4")
    data = fetch(tmp_path, now=utc(2026, 11, 20), paths=["costs.csv"], granularity="hourly")
    assert list(data.frame["end"] - data.frame["start"]) == [pd.Timedelta(hours=1)] * 2
    assert data.data_end == utc(2026, 11, 2, 1)


def test_granularity_daily_spreads_a_row_over_the_day_that_holds_it(tmp_path):
    write(tmp_path / "costs.csv", "date,cost", "2026-11-01T10:00:00,24", "2026-11-02T07:30:00,24")
    data = fetch(
        tmp_path,
        now=utc(2026, 11, 20),
        zone="Europe/Paris",
        paths=["costs.csv"],
        granularity="daily",
    )
    assert list(data.frame["start"]) == [
        pd.Timestamp(utc(2026, 10, 31, 23)),
        pd.Timestamp(utc(2026, 11, 1, 23)),
    ]
    assert data.data_end == utc(2026, 11, 2, 23)


def test_an_unknown_granularity_is_rejected():
    with pytest.raises(ValidationError, match="granularity"):
        CsvConfig.model_validate({"type": "csv", "paths": ["a.csv"], "granularity": "weekly"})


@pytest.mark.parametrize("zone", ["Europe/Pariss", "Europe", ""])
def test_an_unknown_provider_time_zone_is_rejected_with_the_config(zone):
    with pytest.raises(ValidationError, match=f"unknown time zone '{zone}'"):
        CsvConfig.model_validate({"type": "csv", "paths": ["a.csv"], "timezone": zone})


def test_costs_with_thousands_separators_are_read(tmp_path):
    write(tmp_path / "costs.csv", "date,cost", '2024-11-01,"1,234.50"', "2024-11-02,0.5")
    data = fetch(tmp_path, paths=["costs.csv"])
    assert data.bad_rows.count == 0
    assert spend(data, NOW) == pytest.approx(1235.0)


def test_a_glob_reads_every_matching_file_relative_to_the_config(tmp_path):
    write(tmp_path / "costs-10.csv", "date,cost", "2024-10-31,100")
    write(tmp_path / "costs-11.csv", "date,cost", "2024-11-01,7", "2024-11-02,3")
    gzipped = tmp_path / "costs-12.csv.gz"
    gzipped.write_bytes(gzip.compress(b"date,cost\n2024-11-03,5\n"))
    data = fetch(tmp_path, paths=["costs-*.csv", "costs-*.csv.gz"])
    assert data.sources == 3
    assert spend(data, NOW) == pytest.approx(15.0)


@pytest.mark.parametrize(
    "dates",
    [["2024-11-01", "2024-11-02"], pd.to_datetime(["2024-11-01", "2024-11-02"])],
    ids=["a Parquet file with text dates is read", "a Parquet file with typed dates is read"],
)
def test_a_parquet_file_with_numeric_costs_is_read(tmp_path, dates):
    frame = pd.DataFrame({"date": dates, "cost": [1.25, 2.5], "Service": ["a", None]})
    frame.to_parquet(tmp_path / "costs.parquet")
    data = fetch(tmp_path, paths=["*.parquet"], dimensions=["Service"])
    assert data.bad_rows.count == 0
    assert list(data.frame["start"]) == [
        pd.Timestamp(utc(2024, 11, 1)),
        pd.Timestamp(utc(2024, 11, 2)),
    ]
    assert spend(data, NOW) == pytest.approx(3.75)
    assert spend(data, NOW, filter={"Service": ("a",)}) == pytest.approx(1.25)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Usage", "usage"),
        ("credit", "credit"),
        (" Tax ", "tax"),
        ("Fee", "purchase"),
        ("Adjustment", "refund"),
        ("something else", "usage"),
    ],
    ids=[
        "usage is usage",
        "credit is a credit",
        "tax is tax whatever its spaces and case",
        "a fee is a purchase",
        "an adjustment is a refund",
        "an unknown category counts as usage",
    ],
)
def test_a_category_column_maps_to_charge_categories(tmp_path, text, category):
    write(tmp_path / "costs.csv", "date,cost,kind", f"2024-11-01,9,{text}")
    data = fetch(tmp_path, paths=["costs.csv"], category_column="kind")
    assert list(data.frame["charge_category"].astype(str)) == [category]


def test_bad_rows_are_counted_with_file_and_line(tmp_path):
    path = write(
        tmp_path / "costs.csv",
        "date,cost,currency",
        "2024-11-01,10,USD",
        "not a date,10,USD",
        "2024-11-02,ten,USD",
        "2024-11-03,10,",
        "2024-11-04,5,USD",
    )
    data = fetch(tmp_path, paths=["costs.csv"], currency_column="currency")
    assert data.bad_rows.count == 3
    assert [(row.source, row.line) for row in data.bad_rows.examples] == [
        (str(path), 3),
        (str(path), 4),
        (str(path), 5),
    ]
    assert [row.reason for row in data.bad_rows.examples] == [
        "date is not a date",
        "cost is not a number",
        "currency is empty",
    ]
    assert spend(data, NOW) == pytest.approx(15.0)


def test_a_missing_column_names_the_file_and_what_it_has(tmp_path):
    path = write(tmp_path / "costs.csv", "day,cost", "2024-11-01,1")
    with pytest.raises(ProviderError) as caught:
        fetch(tmp_path, paths=["costs.csv"], dimensions=["Service"])
    message = str(caught.value)
    assert str(path) in message
    assert "date, Service" in message
    assert "it has day, cost" in message


CURRENCY_CONFIG = """
currency: USD
exchange_rates: {EUR: 1.1, GBP: 1.25}
providers:
  costs: {type: csv, paths: [costs.csv], currency_column: currency}
budgets:
  - {name: all, amount: 1000, period: monthly, provider: costs}
"""


def test_rows_in_other_currencies_are_converted_with_exchange_rates(tmp_path):
    write(
        tmp_path / "costs.csv",
        "date,cost,currency",
        "2024-11-01,100,EUR",
        "2024-11-02,50,USD",
        "2024-11-03,8,GBP",
    )
    config = parse_config(CURRENCY_CONFIG, str(tmp_path / "c.yml"), str(tmp_path))
    refresher = Refresher(config)
    refresher.refresh(NOW)
    assert refresher.health["costs"].up
    (entry,) = refresher.snapshot(NOW).budgets
    # 100 EUR at 1.1 + 50 USD + 8 GBP at 1.25.
    assert entry.status.spend == pytest.approx(110.0 + 50.0 + 10.0)
    assert set(refresher.data["costs"].frame["currency"].astype(str)) == {"USD"}


def test_a_currency_without_a_rate_fails_the_refresh_naming_it(tmp_path):
    write(tmp_path / "costs.csv", "date,cost,currency", "2024-11-01,100,CHF", "2024-11-02,5,JPY")
    config = parse_config(CURRENCY_CONFIG, str(tmp_path / "c.yml"), str(tmp_path))
    refresher = Refresher(config)
    refresher.refresh(NOW)
    health = refresher.health["costs"]
    assert not health.up
    assert health.errors_total == 1
    assert health.last_error is not None
    assert "CHF, JPY" in health.last_error
    assert "costs" in health.last_error
    assert "costs" not in refresher.data


@pytest.mark.parametrize(
    ("currencies", "expected"),
    [
        (["USD", "USD"], [100.0, 10.0]),
        (["EUR", "USD"], [110.0, 10.0]),
        (["EUR", "EUR"], [110.0, 11.0]),
    ],
    ids=[
        "rows already in the reporting currency are unchanged",
        "only rows in another currency are converted",
        "every row in another currency is converted",
    ],
)
def test_to_reporting_currency_multiplies_by_the_rate(currencies, expected):
    frame = normalize(
        pd.DataFrame(
            {
                "start": [utc(2024, 11, 1), utc(2024, 11, 2)],
                "end": [utc(2024, 11, 2), utc(2024, 11, 3)],
                "cost": [100.0, 10.0],
                "currency": currencies,
                "charge_category": "usage",
            }
        )
    )
    converted = to_reporting_currency(frame, "USD", {"EUR": 1.1}, "costs")
    assert list(converted["cost"]) == pytest.approx(expected)
    assert list(converted["currency"].astype(str)) == ["USD", "USD"]
