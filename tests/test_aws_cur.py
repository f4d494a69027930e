"""The aws_cur provider on CUR 2.0 and legacy CUR files written the way AWS Data Exports writes
them: Parquet with timestamp and map columns, or gzip CSV with map cells as JSON."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.session
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from budget_exporter.config.loader import parse_config
from budget_exporter.model.errors import ProviderError
from budget_exporter.providers.base import ProviderContext
from budget_exporter.providers.cost.aws_cur import AwsCurConfig, AwsCurProvider, legacy_column_name
from budget_exporter.service.refresh import Refresher

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
PAYER = "012345678901"
ACCOUNT = "111122223333"
MONTH = datetime(2026, 3, 1)
APRIL = datetime(2026, 4, 1)
RI_ARN = "arn:aws:ec2:us-east-1:111122223333:reserved-instances/4b2c-example"
SP_ARN = "arn:aws:savingsplans::111122223333:savingsplan/3f5e-example"
EC2 = ("AmazonEC2", "Amazon Elastic Compute Cloud")
S3 = ("AmazonS3", "Amazon Simple Storage Service")


def item(line_type: str, cost: float, start: datetime, end: datetime, service=EC2, **extra) -> dict:
    """One CUR 2.0 line item with the columns the provider reads, plus ``extra``."""
    return {
        "bill_payer_account_id": PAYER,
        "bill_payer_account_name": "Example Corp",
        "bill_billing_period_start_date": MONTH,
        "bill_invoice_id": "",
        "line_item_usage_account_id": ACCOUNT,
        "line_item_usage_account_name": "web-prod",
        "line_item_line_item_type": line_type,
        "line_item_product_code": service[0],
        "line_item_usage_start_date": start,
        "line_item_usage_end_date": end,
        "line_item_unblended_cost": cost,
        "line_item_currency_code": "USD",
        "line_item_availability_zone": "us-east-1a" if line_type.endswith("Usage") else "",
        "product": [("product_name", service[1]), ("servicecode", service[0])],
        "product_region_code": "us-east-1",
        "resource_tags": [("user_team", "web"), ("aws_createdBy", "Root:111122223333")]
        if line_type.endswith("Usage")
        else [],
        "reservation_reservation_a_r_n": extra.pop("ri_arn", ""),
        "reservation_effective_cost": extra.pop("ri_effective", 0.0),
        "reservation_unused_amortized_upfront_fee_for_billing_period": extra.pop(
            "ri_unused_up", 0.0
        ),
        "reservation_unused_recurring_fee": extra.pop("ri_unused_rec", 0.0),
        "savings_plan_savings_plan_a_r_n": extra.pop("sp_arn", ""),
        "savings_plan_savings_plan_effective_cost": extra.pop("sp_effective", 0.0),
        "savings_plan_total_commitment_to_date": extra.pop("sp_commitment", 0.0),
        "savings_plan_used_commitment": extra.pop("sp_used", 0.0),
        **extra,
    }


HOUR = (datetime(2026, 3, 19, 10), datetime(2026, 3, 19, 11))
LINE_ITEMS = [
    item("Usage", 0.0928, *HOUR),
    item("Usage", 0.023, datetime(2026, 3, 19, 14), datetime(2026, 3, 19, 15), service=S3),
    item("DiscountedUsage", 0.0, *HOUR, ri_arn=RI_ARN, ri_effective=0.062),
    item("SavingsPlanCoveredUsage", 0.5, *HOUR, sp_arn=SP_ARN, sp_effective=0.31),
    item("SavingsPlanNegation", -0.5, *HOUR, sp_arn=SP_ARN),
    item(
        "SavingsPlanRecurringFee",
        100.0,
        MONTH,
        APRIL,
        sp_arn=SP_ARN,
        sp_commitment=100.0,
        sp_used=80.0,
    ),
    item("RIFee", 50.0, MONTH, APRIL, ri_arn=RI_ARN, ri_unused_up=3.0, ri_unused_rec=2.0),
    item("Fee", 1200.0, datetime(2026, 3, 2, 9), datetime(2026, 3, 2, 9), ri_arn=RI_ARN),
    item("Credit", -5.0, MONTH, APRIL),
    item("Refund", -2.0, MONTH, APRIL),
    item("Tax", 1.2, MONTH, APRIL),
    item("EdpDiscount", -0.4, *HOUR),
]

SCHEMA_OVERRIDES = {
    "bill_billing_period_start_date": pa.timestamp("ms"),
    "line_item_usage_start_date": pa.timestamp("ms"),
    "line_item_usage_end_date": pa.timestamp("ms"),
    "product": pa.map_(pa.string(), pa.string()),
    "resource_tags": pa.map_(pa.string(), pa.string()),
}


def write_parquet(path: Path, rows: list[dict]) -> Path:
    """A Parquet file typed like a CUR 2.0 export (timestamps, maps, doubles, strings)."""
    fields = []
    for name, value in rows[0].items():
        if name in SCHEMA_OVERRIDES:
            fields.append(pa.field(name, SCHEMA_OVERRIDES[name]))
        elif isinstance(value, float):
            fields.append(pa.field(name, pa.float64()))
        elif isinstance(value, int):
            fields.append(pa.field(name, pa.int64()))
        else:
            fields.append(pa.field(name, pa.string()))
    schema = pa.schema(fields)
    table = pa.Table.from_pylist(rows, schema=schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def make_provider(folder: Path, **settings: Any) -> AwsCurProvider:
    config = AwsCurConfig.model_validate({"type": "aws_cur", "paths": "**/*.parquet", **settings})
    return AwsCurProvider("cur", config, ProviderContext("UTC", "USD", str(folder)))


def by(frame, column: str) -> dict[str, float]:
    sums = frame.groupby(column, observed=True)["cost"].sum()
    return {key: round(value, 6) for key, value in sums.items() if round(value, 6) != 0}


@pytest.mark.parametrize(
    ("cost", "expected"),
    [
        (
            "unblended",
            {
                "Usage": 0.1158,
                "SavingsPlanCoveredUsage": 0.5,
                "SavingsPlanNegation": -0.5,
                "SavingsPlanRecurringFee": 100.0,
                "RIFee": 50.0,
                "Fee": 1200.0,
                "Credit": -5.0,
                "Refund": -2.0,
                "Tax": 1.2,
                "EdpDiscount": -0.4,
            },
        ),
        (
            # Covered usage at its effective cost, only the unused commitment on fee lines,
            # upfront fee and negation at zero.
            "amortized",
            {
                "Usage": 0.1158,
                "DiscountedUsage": 0.062,
                "SavingsPlanCoveredUsage": 0.31,
                "SavingsPlanRecurringFee": 20.0,
                "RIFee": 5.0,
                "Credit": -5.0,
                "Refund": -2.0,
                "Tax": 1.2,
                "EdpDiscount": -0.4,
            },
        ),
    ],
)
def test_each_cost_basis_prices_line_item_types_as_the_cur_documents(tmp_path, cost, expected):
    write_parquet(tmp_path / "data/BILLING_PERIOD=2026-03/part-0.parquet", LINE_ITEMS)
    frame = make_provider(tmp_path, cost=cost).fetch(NOW).frame
    assert by(frame, "x_LineItemType") == expected


def test_line_item_types_get_charge_categories_with_credits_and_refunds_negative(tmp_path):
    write_parquet(tmp_path / "export.parquet", LINE_ITEMS)
    frame = make_provider(tmp_path).fetch(NOW).frame
    assert by(frame, "charge_category") == {
        "usage": round(0.1158 + 0.5 - 0.5 - 0.4, 6),
        "purchase": 1350.0,
        "credit": -5.0,
        "refund": -2.0,
        "tax": 1.2,
    }


@pytest.mark.parametrize(
    ("line_type", "start", "end"),
    [
        # An upfront fee counts at once; monthly fees and taxes spread over the month.
        ("Fee", datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 2, 9, tzinfo=UTC)),
        ("RIFee", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
        ("Tax", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
        ("Usage", datetime(2026, 3, 19, 10, tzinfo=UTC), datetime(2026, 3, 19, 11, tzinfo=UTC)),
    ],
)
def test_charge_periods_follow_the_usage_dates_in_utc(tmp_path, line_type, start, end):
    write_parquet(tmp_path / "export.parquet", LINE_ITEMS)
    frame = make_provider(tmp_path).fetch(NOW).frame
    rows = frame[(frame["x_LineItemType"] == line_type) & (frame["ServiceName"] != S3[1])]
    assert {(row.start, row.end) for row in rows.itertuples()} == {(start, end)}


def test_dimensions_use_focus_names_and_tags_lose_the_user_prefix(tmp_path):
    write_parquet(tmp_path / "export.parquet", LINE_ITEMS)
    frame = make_provider(tmp_path).fetch(NOW).frame
    usage = frame[frame["x_LineItemType"] == "Usage"]
    assert sorted(usage["ServiceName"]) == [EC2[1], S3[1]]
    assert set(usage["x_ServiceCode"]) == {"AmazonEC2", "AmazonS3"}
    assert set(frame["BillingAccountId"]) == {PAYER}
    assert set(frame["SubAccountId"]) == {ACCOUNT}
    assert set(frame["SubAccountName"]) == {"web-prod"}
    assert set(frame["RegionId"]) == {"us-east-1"}
    assert set(frame["ProviderName"]) == {"AWS"}
    assert set(usage["tags.team"]) == {"web"}
    assert set(usage["tags.aws_createdBy"]) == {"Root:111122223333"}
    assert set(frame[frame["x_LineItemType"] == "Tax"]["tags.team"]) == {""}


def test_only_the_configured_tags_become_dimensions(tmp_path):
    write_parquet(tmp_path / "export.parquet", LINE_ITEMS)
    frame = make_provider(tmp_path, tags=["team"]).fetch(NOW).frame
    assert [c for c in frame.columns if c.startswith("tags.")] == ["tags.team"]


def test_legacy_cur_columns_and_numeric_account_ids_are_understood(tmp_path):
    legacy = [
        {
            "bill_payer_account_id": 12345678901,
            "line_item_usage_account_id": 111122223333,
            "line_item_line_item_type": "Usage",
            "line_item_usage_start_date": datetime(2026, 3, 19, 10),
            "line_item_usage_end_date": datetime(2026, 3, 19, 11),
            "line_item_unblended_cost": 1.25,
            "line_item_currency_code": "USD",
            "product_product_name": "Amazon Relational Database Service",
            "product_region": "eu-west-1",
            "resource_tags_user_cost_center": "cc-42",
        }
    ]
    write_parquet(tmp_path / "legacy.parquet", legacy)
    frame = make_provider(tmp_path).fetch(NOW).frame
    row = frame.iloc[0]
    assert (row["BillingAccountId"], row["SubAccountId"]) == (PAYER, ACCOUNT)
    assert (row["ServiceName"], row["RegionId"]) == (
        "Amazon Relational Database Service",
        "eu-west-1",
    )
    assert row["tags.cost_center"] == "cc-42"


def test_gzip_csv_exports_are_read_and_bad_rows_reported_by_line(tmp_path):
    header = (
        "line_item_line_item_type,line_item_usage_start_date,line_item_usage_end_date,"
        "line_item_unblended_cost,line_item_currency_code,line_item_product_code,resource_tags\n"
    )
    lines = [
        "Usage,2026-03-19T10:00:00Z,2026-03-19T11:00:00Z,0.5,USD,AmazonEC2,"
        '"{""user_team"": ""api""}"\n',
        "Usage,yesterday,2026-03-19T11:00:00Z,0.5,USD,AmazonEC2,\n",
        "Usage,2026-03-19T11:00:00Z,2026-03-19T12:00:00Z,abc,USD,AmazonEC2,\n",
        "Credit,2026-03-01T00:00:00Z,2026-04-01T00:00:00Z,-1.5,USD,AmazonEC2,\n",
    ]
    with gzip.open(tmp_path / "export-00001.csv.gz", "wt", encoding="utf-8") as stream:
        stream.write(header + "".join(lines))
    data = make_provider(tmp_path, paths="*.csv.gz").fetch(NOW)
    assert by(data.frame, "charge_category") == {"usage": 0.5, "credit": -1.5}
    assert set(data.frame[data.frame["charge_category"] == "usage"]["tags.team"]) == {"api"}
    assert [(row.line, row.reason) for row in data.bad_rows.examples] == [
        (3, "line_item_usage_start_date is not a date-time"),
        (4, "unblended cost is not a number"),
    ]


@pytest.mark.parametrize(
    ("invoice", "settled"),
    [
        # March is not invoiced yet: all of it can still change.
        ("", datetime(2026, 3, 1, tzinfo=UTC)),
        # Invoiced: final up to the newest metered hour, not to the month-long fee lines.
        ("EUINIE26-1234", datetime(2026, 3, 19, 15, tzinfo=UTC)),
    ],
)
def test_the_invoice_id_tells_which_billing_periods_are_final(tmp_path, invoice, settled):
    rows = [{**row, "bill_invoice_id": invoice} for row in LINE_ITEMS]
    write_parquet(tmp_path / "export.parquet", rows)
    data = make_provider(tmp_path).fetch(NOW)
    assert data.data_end == datetime(2026, 3, 19, 15, tzinfo=UTC)
    assert data.settled_through == settled


def test_net_unblended_falls_back_to_unblended_when_the_account_had_no_discounts(tmp_path):
    write_parquet(tmp_path / "export.parquet", LINE_ITEMS)
    plain = make_provider(tmp_path).fetch(NOW).frame
    net = make_provider(tmp_path, cost="net_unblended").fetch(NOW).frame
    assert net["cost"].sum() == pytest.approx(plain["cost"].sum())
    discounted = [
        {**row, "line_item_net_unblended_cost": row["line_item_unblended_cost"] * 0.9}
        for row in LINE_ITEMS
    ]
    write_parquet(tmp_path / "export.parquet", discounted)
    net = make_provider(tmp_path, cost="net_unblended").fetch(NOW).frame
    assert net["cost"].sum() == pytest.approx(plain["cost"].sum() * 0.9)


@pytest.mark.parametrize(
    ("drop", "settings", "message"),
    [
        ("line_item_unblended_cost", {}, "is not a CUR file: missing column(s) line_item_unbl"),
        ("line_item_usage_start_date", {}, "missing column(s) line_item_usage_start_date"),
        (
            "savings_plan_savings_plan_effective_cost",
            {"cost": "amortized"},
            "lacks savings_plan_savings_plan_effective_cost: export them, or use cost: unblended",
        ),
    ],
)
def test_files_without_the_needed_columns_are_rejected_with_what_to_fix(
    tmp_path, drop, settings, message
):
    rows = [{k: v for k, v in row.items() if k != drop} for row in LINE_ITEMS]
    write_parquet(tmp_path / "export.parquet", rows)
    with pytest.raises(ProviderError) as raised:
        make_provider(tmp_path, **settings).fetch(NOW)
    assert str(raised.value).startswith("provider cur: ")
    assert "export.parquet" in str(raised.value) and message in str(raised.value)


def test_a_corrupt_parquet_file_is_named_in_the_error(tmp_path):
    (tmp_path / "export.parquet").write_bytes(b"PAR1 not really parquet")
    with pytest.raises(ProviderError, match=r"provider cur: cannot read .*export\.parquet"):
        make_provider(tmp_path).fetch(NOW)


def test_the_provider_type_is_available_in_config_files():
    config = parse_config(
        '{"providers": {"cur": {"type": "aws_cur", "paths": "cur/**/*.parquet",'
        ' "cost": "amortized"}}}'
    )
    assert config.providers["cur"].type == "aws_cur"


BUCKET = "cur-bucket"
KEY = "exports/data/BILLING_PERIOD=2026-03/cur-00001.snappy.parquet"
S3_PATTERN = f"s3://{BUCKET}/exports/data/BILLING_PERIOD=*/*.parquet"
LISTING = {"Bucket": BUCKET, "Prefix": "exports/data/BILLING_PERIOD="}


# One session for all tests: it loads the S3 service model once.
SESSION = botocore.session.get_session()


def s3_provider(folder: Path, **settings: Any) -> tuple[AwsCurProvider, Stubber]:
    provider = make_provider(folder, paths=S3_PATTERN, **settings)
    client = SESSION.create_client(
        "s3", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    stubber.activate()
    provider.client_factory = lambda: client  # type: ignore[method-assign]
    return provider, stubber


def listing(*objects: tuple[str, str]) -> dict:
    contents = [
        {"Key": key, "ETag": etag, "Size": 1024, "LastModified": datetime(2026, 3, 20, tzinfo=UTC)}
        for key, etag in objects
    ]
    return {"IsTruncated": False, "Contents": contents, "KeyCount": len(contents)}


def parquet_bytes(folder: Path, rows: list[dict]) -> bytes:
    return write_parquet(folder / "upload" / "export.parquet", rows).read_bytes()


def body(payload: bytes) -> dict:
    return {"Body": StreamingBody(io.BytesIO(payload), len(payload)), "ContentLength": len(payload)}


def test_s3_objects_are_downloaded_once_and_again_only_when_their_etag_changes(tmp_path):
    provider, stubber = s3_provider(tmp_path, cache_dir="mirror")
    manifest = ("exports/metadata/BILLING_PERIOD=2026-03/cur-Manifest.json", '"m1"')
    first = parquet_bytes(tmp_path, LINE_ITEMS[:1])
    stubber.add_response("list_objects_v2", listing((KEY, '"e1"'), manifest), LISTING)
    stubber.add_response("get_object", body(first), {"Bucket": BUCKET, "Key": KEY})
    assert provider.fetch(NOW).frame["cost"].sum() == pytest.approx(0.0928)
    # Same ETag: listed, not downloaded (a get_object call would find no queued answer).
    stubber.add_response("list_objects_v2", listing((KEY, '"e1"')), LISTING)
    assert provider.fetch(NOW).frame["cost"].sum() == pytest.approx(0.0928)
    second = parquet_bytes(tmp_path, LINE_ITEMS[:2])
    stubber.add_response("list_objects_v2", listing((KEY, '"e2"')), LISTING)
    stubber.add_response("get_object", body(second), {"Bucket": BUCKET, "Key": KEY})
    assert provider.fetch(NOW).frame["cost"].sum() == pytest.approx(0.0928 + 0.023)
    stubber.assert_no_pending_responses()
    local = tmp_path / "mirror" / "aws_cur" / "cur" / BUCKET / KEY
    assert local.read_bytes() == second


def test_local_copies_of_objects_gone_from_s3_are_not_read_again(tmp_path):
    provider, stubber = s3_provider(tmp_path, cache_dir="mirror")
    newer = KEY.replace("00001", "00002")
    stubber.add_response("list_objects_v2", listing((KEY, '"e1"')), LISTING)
    stubber.add_response("get_object", body(parquet_bytes(tmp_path, LINE_ITEMS[:1])))
    provider.fetch(NOW)
    stubber.add_response("list_objects_v2", listing((newer, '"e3"')), LISTING)
    stubber.add_response("get_object", body(parquet_bytes(tmp_path, LINE_ITEMS[1:2])))
    data = provider.fetch(NOW)
    assert data.sources == 1
    assert data.frame["cost"].sum() == pytest.approx(0.023)
    assert not (tmp_path / "mirror" / "aws_cur" / "cur" / BUCKET / KEY).exists()


@pytest.mark.parametrize(
    ("operation", "permission"),
    [("list_objects_v2", "s3:ListBucket"), ("get_object", "s3:GetObject")],
)
def test_s3_access_denied_names_the_missing_permission(tmp_path, operation, permission):
    provider, stubber = s3_provider(tmp_path, cache_dir="mirror")
    if operation == "get_object":
        stubber.add_response("list_objects_v2", listing((KEY, '"e1"')), LISTING)
    stubber.add_client_error(operation, service_error_code="AccessDenied", http_status_code=403)
    with pytest.raises(
        ProviderError, match=f"provider cur: .* failed with AccessDenied.*{permission}"
    ):
        provider.fetch(NOW)


def test_s3_paths_without_a_folder_for_copies_are_refused_with_the_fix(tmp_path):
    provider, _ = s3_provider(tmp_path)
    with pytest.raises(ProviderError, match="set state_dir or cache_dir"):
        provider.fetch(NOW)


TIMES = ("start", "end", "cost")
# Legacy CUR CSV headers (category/AttributeName) of the columns LEGACY_ROWS uses.
LEGACY_HEADERS = {
    "bill_invoice_id": "bill/InvoiceId",
    "bill_billing_period_start_date": "bill/BillingPeriodStartDate",
    "bill_payer_account_id": "bill/PayerAccountId",
    "line_item_usage_account_id": "lineItem/UsageAccountId",
    "line_item_line_item_type": "lineItem/LineItemType",
    "line_item_usage_start_date": "lineItem/UsageStartDate",
    "line_item_usage_end_date": "lineItem/UsageEndDate",
    "line_item_product_code": "lineItem/ProductCode",
    "line_item_unblended_cost": "lineItem/UnblendedCost",
    "line_item_currency_code": "lineItem/CurrencyCode",
    "line_item_availability_zone": "lineItem/AvailabilityZone",
    "product_product_name": "product/ProductName",
    "product_region_code": "product/regionCode",
    "reservation_reservation_a_r_n": "reservation/ReservationARN",
    "resource_tags_user_team": "resourceTags/user:team",
    "resource_tags_user_cost_center": "resourceTags/user:CostCenter",
}


def legacy_row(line_type: str, cost: float, start: datetime, end: datetime, **extra) -> dict:
    return {
        "bill_invoice_id": "",
        "bill_billing_period_start_date": MONTH,
        "bill_payer_account_id": PAYER,
        "line_item_usage_account_id": ACCOUNT,
        "line_item_line_item_type": line_type,
        "line_item_usage_start_date": start,
        "line_item_usage_end_date": end,
        "line_item_product_code": "AmazonEC2",
        "line_item_unblended_cost": cost,
        "line_item_currency_code": "USD",
        "line_item_availability_zone": "us-east-1a" if line_type == "Usage" else "",
        "product_product_name": "Amazon Elastic Compute Cloud",
        "product_region_code": "us-east-1",
        "reservation_reservation_a_r_n": extra.get("arn", ""),
        "resource_tags_user_team": extra.get("team", ""),
        "resource_tags_user_cost_center": extra.get("cost_center", ""),
    }


LEGACY_ROWS = [
    legacy_row("Usage", 0.0928, *HOUR, team="web", cost_center="cc-42"),
    legacy_row("Usage", 0.25, datetime(2026, 3, 19, 14), datetime(2026, 3, 19, 15), team="api"),
    legacy_row("RIFee", 50.0, MONTH, APRIL, arn=RI_ARN),
    legacy_row("Fee", 1200.0, datetime(2026, 3, 2, 9), datetime(2026, 3, 2, 9), arn=RI_ARN),
    legacy_row("Tax", 1.2, MONTH, APRIL),
    legacy_row("Credit", -5.0, MONTH, APRIL),
]


def write_legacy_csv(path: Path, rows: list[dict]) -> Path:
    """A legacy CUR CSV: ``category/Attribute`` headers, ISO times with Z, empty cells."""

    def cell(value: Any) -> str:
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%dT%H:%M:%SZ")
        return str(value)

    header = ",".join(LEGACY_HEADERS[name] for name in rows[0])
    lines = [header] + [",".join(cell(value) for value in row.values()) for row in rows]
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as stream:
            stream.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["cur-00001.csv", "cur-00001.csv.gz"])
def test_a_legacy_cur_csv_reads_exactly_like_its_parquet_twin(tmp_path, name):
    write_parquet(tmp_path / "parquet/cur-00001.parquet", LEGACY_ROWS)
    write_legacy_csv(tmp_path / "csv" / name, LEGACY_ROWS)
    from_parquet = make_provider(tmp_path, paths="parquet/*.parquet").fetch(NOW)
    from_csv = make_provider(tmp_path, paths=f"csv/{name}").fetch(NOW)
    assert from_csv.bad_rows.count == 0
    columns = sorted(from_parquet.frame.columns)
    assert sorted(from_csv.frame.columns) == columns
    assert "tags.team" in columns and "tags.cost_center" in columns
    pd.testing.assert_frame_equal(
        from_csv.frame[columns].astype({c: "object" for c in columns if c not in TIMES}),
        from_parquet.frame[columns].astype({c: "object" for c in columns if c not in TIMES}),
    )
    assert (from_csv.data_end, from_csv.settled_through) == (
        from_parquet.data_end,
        from_parquet.settled_through,
    )
    assert round(from_csv.frame["cost"].sum(), 6) == round(0.0928 + 0.25 + 50 + 1200 + 1.2 - 5, 6)


def test_legacy_headers_become_the_parquet_column_names():
    assert [legacy_column_name(header) for header in LEGACY_HEADERS.values()] == list(
        LEGACY_HEADERS
    )


def test_data_is_never_settled_beyond_now_or_the_newest_data(tmp_path):
    # An invoiced month of fee lines only: their charge period ends on April 1st, in the future.
    fees = [
        {**row, "bill_invoice_id": "EUINIE26-1234"}
        for row in LINE_ITEMS
        if row["line_item_line_item_type"] in ("RIFee", "SavingsPlanRecurringFee", "Tax")
    ]
    write_parquet(tmp_path / "cur/export.parquet", fees)
    (tmp_path / "config.yml").write_text(
        "providers:\n  cur: {type: aws_cur, paths: 'cur/*.parquet'}\n"
        "budgets:\n  - {name: all, amount: 1000, period: monthly}\n",
        encoding="utf-8",
    )
    config = parse_config(
        (tmp_path / "config.yml").read_text(encoding="utf-8"), "config.yml", str(tmp_path)
    )
    refresher = Refresher(config)
    refresher.refresh(NOW)
    health = refresher.health["cur"]
    assert health.up and health.data_end is not None and health.settled_through is not None
    assert health.data_end <= NOW
    assert health.settled_through <= health.data_end


@pytest.mark.parametrize("invoice", ["", "EUINIE26-1234"])
def test_a_restart_reads_no_unchanged_cur_file_again_and_answers_the_same(tmp_path, invoice):
    rows = [{**row, "bill_invoice_id": invoice} for row in LINE_ITEMS]
    write_parquet(tmp_path / "export.parquet", rows)
    context = ProviderContext("UTC", "USD", str(tmp_path), cache_dir=str(tmp_path / "state"))
    config = AwsCurConfig.model_validate({"type": "aws_cur", "paths": "export.parquet"})
    first = AwsCurProvider("cur", config, context).fetch(NOW)
    again = AwsCurProvider("cur", config, context)  # new objects, the same state folder
    parsed = []
    parse = again._parse_file
    again._parse_file = lambda path: parsed.append(path) or parse(path)  # type: ignore[method-assign]
    data = again.fetch(NOW)
    assert parsed == []
    assert by(data.frame, "ServiceName") == by(first.frame, "ServiceName")
    assert (data.data_end, data.settled_through) == (first.data_end, first.settled_through)
    assert data.bad_rows == first.bad_rows
