"""The cost basis decides when a long charge counts, and purchases and fees are known steps.

Hand-computed cases at a mid-period ``now`` (September 10, 12:00 UTC: 9.5 days of 30):

- a monthly fee of 300 (charge period September 1 to October 1) and usage of 10 a day count
  300 + 95 = 395 under ``charge_start`` (the cash view of the console and AWS Budgets) and
  300 x 9.5/30 + 95 = 190 under ``pro_rata`` (amortized);
- a 3,100 purchase on the 1st beside usage of 100 a day, in a 7,000 budget: spend 4,050, but the
  pace is the usage's 100 a day, so nothing is projected to run out (2,950 left lasts 29.5 days
  of the 20.5 to go), the burn rate is 100 / (7,000 / 30) = 0.43 and the plan is
  3,100 + 3,900 x 9.5/30 = 4,335, so spend is 6.6% under it, not 83% over.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from budget_exporter.config.loader import parse_config
from budget_exporter.evaluation.evaluate import evaluate
from budget_exporter.model.costs import CostData, normalize
from budget_exporter.model.periods import PeriodKind, period_containing
from budget_exporter.money.anomaly import MAX_SCORE, weekday_anomaly_score
from budget_exporter.money.budgets import (
    BudgetSpec,
    CostIndex,
    evaluate_budget,
    recurring_steps_to_come,
)
from budget_exporter.money.insights import InsightsConfig, VarianceCategory, variance

UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2024, 9, 10, 12, tzinfo=UTC)
SEPTEMBER = datetime(2024, 9, 1, tzinfo=UTC)
OCTOBER = datetime(2024, 10, 1, tzinfo=UTC)


def row(start, end, cost, category="usage", **dimensions):
    return {
        "start": start,
        "end": end,
        "cost": cost,
        "currency": "USD",
        "charge_category": category,
        **dimensions,
    }


def daily(first: datetime, days: int, cost: float, **dimensions) -> list[dict]:
    return [
        row(first + timedelta(days=d), first + timedelta(days=d + 1), cost, **dimensions)
        for d in range(days)
    ]


def frame(rows: list[dict]) -> pd.DataFrame:
    return normalize(pd.DataFrame(rows))


def spec(amount: float, **options) -> BudgetSpec:
    return BudgetSpec(name="b", amount=amount, period=PeriodKind.MONTHLY, **options)


FEE_MONTH = [row(SEPTEMBER, OCTOBER, 300.0, ServiceName="Support"), *daily(SEPTEMBER, 30, 10.0)]


@pytest.mark.parametrize(
    ("charge_start", "expected"),
    [(True, 395.0), (False, 190.0)],
    ids=["a cash basis counts the monthly fee on the 1st", "an amortized basis spreads it"],
)
def test_a_monthly_fee_counts_by_the_accrual(charge_start, expected):
    index = CostIndex(frame(FEE_MONTH), charge_start)
    status = evaluate_budget(spec(1000.0), index, NOW, UTC_ZONE, NOW)
    assert status.spend == pytest.approx(expected)


def test_a_day_of_usage_spreads_over_its_day_under_either_accrual():
    rows = [row(datetime(2024, 9, 10, tzinfo=UTC), datetime(2024, 9, 11, tzinfo=UTC), 24.0)]
    for charge_start in (True, False):
        status = evaluate_budget(
            spec(100.0), CostIndex(frame(rows), charge_start), NOW, UTC_ZONE, NOW
        )
        assert status.spend == pytest.approx(12.0)


def test_a_budget_overrides_the_accrual_of_its_data():
    index = CostIndex(frame(FEE_MONTH), charge_start=False)
    cash = evaluate_budget(spec(1000.0), index.for_accrual("charge_start"), NOW, UTC_ZONE, NOW)
    spread = evaluate_budget(spec(1000.0), index.for_accrual("pro_rata"), NOW, UTC_ZONE, NOW)
    assert (cash.spend, spread.spend) == pytest.approx((395.0, 190.0))
    assert index.for_accrual(None) is index


PURCHASE_MONTH = [
    row(SEPTEMBER, SEPTEMBER, 3100.0, "purchase", ServiceName="Savings Plans"),
    *daily(SEPTEMBER, 30, 100.0, ServiceName="EC2"),
]


def test_a_purchase_counts_in_spend_but_not_in_the_pace():
    index = CostIndex(frame(PURCHASE_MONTH), True)
    status = evaluate_budget(spec(7000.0), index, NOW, UTC_ZONE, NOW)
    assert status.spend == pytest.approx(4050.0)
    assert status.step_spend == pytest.approx(3100.0)
    assert status.projected_exhaustion is None
    assert status.burn_rates["period"] == pytest.approx(100.0 / (7000.0 / 30))
    assert status.burn_rates["1d"] == pytest.approx(100.0 / (7000.0 / 30))
    assert status.utilization == pytest.approx(4050.0 / 7000.0)


def test_the_plan_expects_the_purchase_already_made():
    found = variance(4050.0, 7000.0, 9.5 / 30, InsightsConfig(), step_spend=3100.0)
    assert found.expected == pytest.approx(3100.0 + 3900.0 * 9.5 / 30)
    assert found.ratio == pytest.approx(4050.0 / 4335.0 - 1)
    assert found.category is VarianceCategory.ON_TRACK
    assert variance(4050.0, 7000.0, 9.5 / 30, InsightsConfig()).category is VarianceCategory.OVER


def test_a_real_usage_overrun_beside_a_purchase_is_still_projected():
    rows = [PURCHASE_MONTH[0], *daily(SEPTEMBER, 30, 300.0)]
    status = evaluate_budget(spec(7000.0), CostIndex(frame(rows), True), NOW, UTC_ZONE, NOW)
    # 3,100 + 2,850 spent; 1,050 left at 300 a day lasts 3.5 days: September 14, 00:00.
    assert status.projected_exhaustion == datetime(2024, 9, 14, tzinfo=UTC)
    assert status.burn_rates["period"] == pytest.approx(300.0 / (7000.0 / 30))


def test_a_purchase_on_its_own_drives_no_burn_rate():
    index = CostIndex(frame(PURCHASE_MONTH[:1]), True)
    status = evaluate_budget(spec(3000.0), index, NOW, UTC_ZONE, NOW)
    assert status.spend == pytest.approx(3100.0)
    assert set(status.burn_rates.values()) == {0.0}


def test_recurring_monthly_purchases_are_expected_in_the_months_still_ahead():
    months = [datetime(2024, m, 1, tzinfo=UTC) for m in range(5, 13)]
    rows = [row(m, m, 500.0, "purchase") for m in months[:5]]  # May to September
    rows += daily(datetime(2024, 5, 1, tzinfo=UTC), 153, 10.0)
    index = CostIndex(frame(rows), True)
    mask = np.ones(len(index), dtype=bool)
    quarter = period_containing(PeriodKind.QUARTERLY, NOW, UTC_ZONE)  # July to September
    year = period_containing(PeriodKind.YEARLY, NOW, UTC_ZONE)
    month = period_containing(PeriodKind.MONTHLY, NOW, UTC_ZONE)
    assert recurring_steps_to_come(index, mask, quarter, NOW, UTC_ZONE) == 0.0
    assert recurring_steps_to_come(index, mask, month, NOW, UTC_ZONE) == 0.0
    assert recurring_steps_to_come(index, mask, year, NOW, UTC_ZONE) == pytest.approx(3 * 500.0)


def test_a_one_off_purchase_is_not_expected_again():
    rows = [
        row(datetime(2024, 8, 1, tzinfo=UTC), datetime(2024, 8, 1, tzinfo=UTC), 900.0, "purchase")
    ]
    rows += daily(datetime(2024, 5, 1, tzinfo=UTC), 153, 10.0)
    index = CostIndex(frame(rows), True)
    year = period_containing(PeriodKind.YEARLY, NOW, UTC_ZONE)
    mask = np.ones(len(index), dtype=bool)
    assert recurring_steps_to_come(index, mask, year, NOW, UTC_ZONE) == 0.0


def test_the_anomaly_score_of_spend_on_a_zero_baseline_is_bounded():
    values = np.zeros(120)
    values[-1] = 3100.0
    score = weekday_anomaly_score(values)
    assert score is not None and 0 < score <= MAX_SCORE


def test_the_anomaly_score_floor_follows_the_usual_daily_spend():
    # Spend only on Mondays (100 each): a Tuesday of 30 is unusual, but not by thousands.
    values = np.array([100.0 if day % 7 == 0 else 0.0 for day in range(121)])
    values[-1] = 30.0  # day 120: a Tuesday
    score = weekday_anomaly_score(values)
    assert score is not None and 10 < score < 50


CONFIG = """
providers:
  cash: {type: demo}
  amortized: {type: demo, accrual: pro_rata}
budgets:
  - {name: cash, amount: 1000, period: monthly, provider: cash}
  - {name: amortized, amount: 1000, period: monthly, provider: amortized}
  - {name: cash-override, amount: 1000, period: monthly, provider: amortized, accrual: charge_start}
  - {name: all, amount: 1000, period: monthly}
"""


def test_each_provider_counts_long_charges_by_its_accrual_and_a_budget_may_override_it():
    config = parse_config(CONFIG)
    data = {name: CostData(frame=frame(FEE_MONTH), data_end=NOW) for name in ("cash", "amortized")}
    spend = {
        entry.status.name: entry.status.spend for entry in evaluate(config, data, (), NOW).budgets
    }
    assert spend == pytest.approx(
        {"cash": 395.0, "amortized": 190.0, "cash-override": 395.0, "all": 395.0 + 190.0}
    )


@pytest.mark.parametrize(
    ("settings", "accrual"),
    [
        ({"type": "focus", "paths": "x.csv"}, "charge_start"),
        ({"type": "focus", "paths": "x.csv", "cost_column": "EffectiveCost"}, "pro_rata"),
        ({"type": "focus", "paths": "x.csv", "cost_column": "ListCost"}, "charge_start"),
        ({"type": "aws_cur", "paths": "x.parquet"}, "charge_start"),
        ({"type": "aws_cur", "paths": "x.parquet", "cost": "net_unblended"}, "charge_start"),
        ({"type": "aws_cur", "paths": "x.parquet", "cost": "amortized"}, "pro_rata"),
        ({"type": "aws_cost_explorer"}, "charge_start"),
        ({"type": "aws_cost_explorer", "metric": "AmortizedCost"}, "pro_rata"),
        ({"type": "aws_cost_explorer", "metric": "NetAmortizedCost"}, "pro_rata"),
        ({"type": "csv", "paths": "x.csv"}, "charge_start"),
        ({"type": "focus", "paths": "x.csv", "accrual": "pro_rata"}, "pro_rata"),
        (
            {
                "type": "aws_cur",
                "paths": "x.parquet",
                "cost": "amortized",
                "accrual": "charge_start",
            },
            "charge_start",
        ),
    ],
)
def test_the_cost_basis_sets_the_default_accrual(settings, accrual):
    from budget_exporter.providers.registry import COST_PROVIDERS

    model = COST_PROVIDERS[settings["type"]].config_model
    assert model.model_validate(settings).accrual_in_force() == accrual


def _purchase(day: datetime, amount: float, service: str, sku: str = "") -> dict:
    return row(day, day, amount, "purchase", ServiceName=service, SkuId=sku)


HISTORY = daily(datetime(2024, 6, 1, tzinfo=UTC), 100, 10.0, ServiceName="EC2", SkuId="")


def test_a_new_purchase_is_named_once_with_its_service_sku_and_amount():
    renewed = [
        _purchase(datetime(2024, m, 1, tzinfo=UTC), 3100.0, "Savings Plans", "ComputeSP")
        for m in (6, 7, 8, 9)
    ]
    first = _purchase(datetime(2024, 9, 5, 10, tzinfo=UTC), 1200.0, "Amazon EC2", "RI-m5.xlarge")
    index = CostIndex(frame(HISTORY + renewed + [first]), True)
    status = evaluate_budget(spec(20000.0), index, NOW, UTC_ZONE, NOW)
    assert [(p.service, p.sku, p.amount, p.at) for p in status.new_purchases] == [
        ("Amazon EC2", "RI-m5.xlarge", 1200.0, datetime(2024, 9, 5, 10, tzinfo=UTC))
    ]
    assert status.step_spend == pytest.approx(3100.0 + 1200.0)


def test_without_a_month_of_history_no_purchase_is_called_new():
    rows = [_purchase(SEPTEMBER, 3100.0, "Savings Plans"), *daily(SEPTEMBER, 30, 10.0)]
    status = evaluate_budget(spec(20000.0), CostIndex(frame(rows), True), NOW, UTC_ZONE, NOW)
    assert status.new_purchases == ()


FOCUS_HEADER = (
    "ChargePeriodStart,ChargePeriodEnd,BilledCost,EffectiveCost,BillingCurrency,"
    "ChargeCategory,ChargeFrequency,ServiceName\n"
)


def _focus_file(path) -> None:
    # A monthly support fee billed 300 (amortized the same), a one-year commitment bought on
    # the 1st for 3650 (EffectiveCost 0: amortized onto the usage it covers), and usage of 10
    # a day (EffectiveCost 20: 10 of its own plus 10 of the commitment's amortization).
    lines = [
        "2024-09-01T00:00:00Z,2024-10-01T00:00:00Z,300,300,USD,Usage,Recurring,AWS Support",
        "2024-09-01T00:00:00Z,2025-09-01T00:00:00Z,3650,0,USD,Purchase,One-Time,Savings Plans",
    ]
    for day in range(1, 31):
        start = datetime(2024, 9, day, tzinfo=UTC)
        end = start + timedelta(days=1)
        lines.append(
            f"{start:%Y-%m-%dT%H:%M:%SZ},{end:%Y-%m-%dT%H:%M:%SZ},10,20,USD,Usage,Usage-Based,EC2"
        )
    path.write_text(FOCUS_HEADER + "\n".join(lines) + "\n", encoding="utf-8")


def _snapshot(tmp_path, providers: str, budgets: str):
    from budget_exporter.service.refresh import Refresher

    config = parse_config(
        f"providers:\n{providers}\nbudgets:\n{budgets}\n", "config.yml", str(tmp_path)
    )
    refresher = Refresher(config)
    refresher.refresh(NOW)
    return {entry.status.name: entry.status for entry in refresher.snapshot(NOW).budgets}


def test_focus_billed_cost_counts_a_monthly_fee_on_the_1st_and_effective_cost_spreads_it(tmp_path):
    _focus_file(tmp_path / "focus.csv")
    statuses = _snapshot(
        tmp_path,
        "  billed: {type: focus, paths: focus.csv}\n"
        "  effective: {type: focus, paths: focus.csv, cost_column: EffectiveCost}",
        "  - {name: billed, amount: 10000, period: monthly, provider: billed}\n"
        "  - {name: effective, amount: 10000, period: monthly, provider: effective}",
    )
    # Cash: the fee in full, the purchase at once, 9.5 days of usage.
    assert statuses["billed"].spend == pytest.approx(300 + 3650 + 95)
    assert statuses["billed"].step_spend == pytest.approx(300 + 3650)
    # Amortized: the fee over the month, the purchase at zero, the usage at its effective cost.
    assert statuses["effective"].spend == pytest.approx(300 * 9.5 / 30 + 190)
    assert statuses["effective"].step_spend == pytest.approx(0.0)
    # Either way the pace is the usage's: 10 (cash) or 20 (effective) a day.
    assert statuses["billed"].burn_rates["period"] == pytest.approx(10 / (10000 / 30))


def test_both_aws_providers_put_a_reservation_fee_on_the_1st_of_a_cash_view(tmp_path):
    from test_aws_cur import item, write_parquet

    # The CUR's RIFee spans the month; Cost Explorer returns the same fee on its day, the 1st.
    write_parquet(
        tmp_path / "cur/export.parquet",
        [
            item("RIFee", 720.0, datetime(2024, 9, 1), datetime(2024, 10, 1)),
            *[
                item("Usage", 24.0, datetime(2024, 9, d), datetime(2024, 9, d + 1))
                for d in range(1, 30)
            ],
        ],
    )
    explorer_like = frame(
        [
            row(SEPTEMBER, SEPTEMBER + timedelta(days=1), 720.0, "purchase"),
            *daily(SEPTEMBER, 29, 24.0),
        ]
    )
    cur = _snapshot(
        tmp_path,
        "  cur: {type: aws_cur, paths: 'cur/*.parquet'}\n"
        "  amortized: {type: aws_cur, paths: 'cur/*.parquet', cost: amortized}",
        "  - {name: cur, amount: 5000, period: monthly, provider: cur}\n"
        "  - {name: amortized, amount: 5000, period: monthly, provider: amortized}",
    )
    explorer = evaluate_budget(spec(5000.0), CostIndex(explorer_like, True), NOW, UTC_ZONE, NOW)
    assert cur["cur"].spend == pytest.approx(720 + 24 * 9.5)
    assert cur["cur"].spend == pytest.approx(explorer.spend)
    # Amortized, the fee's unused part (0 here) and its amortization stay over the month.
    assert cur["amortized"].spend < cur["cur"].spend


def _budget_json(name: str, limit: float, spend: float, parent: str = "") -> dict:
    return {"name": name, "limit": limit, "spend": spend, "parent": parent, "currency": "USD"}


def test_admission_checks_every_ancestor_and_names_the_one_that_refuses():
    from budget_exporter.money.admission import Verdict, admit_in_hierarchy

    budgets = [
        _budget_json("acme", 1000.0, 1300.0),
        _budget_json("sales", 500.0, 100.0, parent="acme"),
        _budget_json("emea", 200.0, 50.0, parent="sales"),
    ]
    answer = admit_in_hierarchy(budgets, "emea", 100.0)
    assert answer.verdict is Verdict.REJECT
    assert answer.refused_by == "acme"
    assert "refused by parent budget acme" in answer.reason
    assert "already over by 300.00 USD" in answer.reason
    assert answer.remaining == pytest.approx(150.0)  # the budget's own room, as asked
    budgets[0] = _budget_json("acme", 1000.0, 700.0)
    admitted = admit_in_hierarchy(budgets, "emea", 100.0)
    assert (admitted.verdict, admitted.refused_by) == (Verdict.ADMIT, None)
    # 250 fits acme (300 left) and sales (400 left) but not emea itself (150 left).
    own = admit_in_hierarchy(budgets, "emea", 250.0)
    assert (own.verdict, own.refused_by) == (Verdict.REJECT, None)


def test_the_bills_totals_count_each_row_once_whatever_the_budgets():
    config = parse_config(
        """
providers:
  cloud: {type: demo}
budgets:
  - {name: all, amount: 1000, period: monthly, provider: cloud}
  - {name: ec2, amount: 1000, period: monthly, provider: cloud, filter: {ServiceName: EC2}}
  - {name: again, amount: 1000, period: monthly, provider: cloud, filter: {ServiceName: EC2}}
"""
    )
    rows = [*daily(datetime(2024, 1, 1, tzinfo=UTC), 254, 10.0, ServiceName="EC2")]
    rows.append(
        row(datetime(2024, 9, 10, tzinfo=UTC), datetime(2024, 9, 10, tzinfo=UTC), 5.0, "tax")
    )
    snapshot = evaluate(config, {"cloud": CostData(frame=frame(rows), data_end=NOW)}, (), NOW)
    budgets = sum(entry.status.spend for entry in snapshot.budgets)
    assert budgets == pytest.approx(3 * 95.0 + 5.0)  # three budgets count the same rows
    assert snapshot.provider_spend == {
        "cloud": pytest.approx({"day": 5.0 + 5.0, "month": 95.0 + 5.0, "year": 2535.0 + 5.0})
    }
