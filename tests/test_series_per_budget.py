"""What a budget costs in series, measured on a real exposition, so README's figures cannot drift.

A monthly budget of one provider with the default thresholds, a forecast and the default
breakdown (ServiceName, here two services), mid-month: the default set of series against every
optional family on.
README's "Series per budget" states both counts and the breakdown's share; this test reads
them from there.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from budget_exporter.config.loader import parse_config
from budget_exporter.metrics.exposition import render
from budget_exporter.service.refresh import Refresher
from conftest import ROOT

AT = datetime(2026, 11, 18, 12, tzinfo=UTC)
OPTIONAL = [
    "weekday_pattern",
    "trend",
    "forecast_horizons",
    "forecast_95",
    "anomaly_by_dimension",
    "threshold_states",
    "variance_amounts",
    "derived_rates",
]


def _series(tmp_path, series: str) -> dict[str, int]:
    lines = ["date,cost,service"]
    for offset in range(150):
        day = date(2026, 6, 20) + timedelta(days=offset)
        lines += [f"{day},{40 + offset % 7},compute", f"{day},{12 + offset % 3},storage"]
    (tmp_path / "costs.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = parse_config(
        "providers:\n"
        "  bill: {type: csv, paths: [costs.csv], dimensions: {ServiceName: service}}\n"
        "budgets:\n  - {name: b, amount: 2000, period: monthly, provider: bill}\n" + series,
        "config.yml",
        str(tmp_path),
    )
    refresher = Refresher(config)
    refresher.refresh(AT)
    text = render(refresher.snapshot(AT)).decode()
    counts: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("budget") == "b":
                counts[sample.name] = counts.get(sample.name, 0) + 1
    return counts


def _readme_figures() -> tuple[int, int, int]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(
        r"costs \*\*(\d+) series\*\* by default .*?\*\*(\d+)\*\* with every optional family.*?"
        r"(\d+) of them are its breakdown",
        text,
        re.S,
    )
    assert found, "README lost its series-per-budget sentence"
    return int(found.group(1)), int(found.group(2)), int(found.group(3))


def test_readme_says_what_a_budget_costs_by_default_and_with_every_option(tmp_path):
    lean = _series(tmp_path, "")
    full = _series(tmp_path, "series: {" + ", ".join(f"{o}: true" for o in OPTIONAL) + "}\n")
    default, everything, breakdown = _readme_figures()
    assert sum(lean.values()) == default, lean
    assert sum(full.values()) == everything, full
    assert lean["budget_spend_by_dimension"] == breakdown
    assert set(full) - set(lean) == {
        "budget_weekday_burn_rate",
        "budget_daily_spend_trend",
        "budget_daily_spend_trend_p_value",
        "budget_forecast_horizon_spend",
        "budget_cost_anomaly_score_by_dimension",
        "budget_threshold_reached",
        "budget_spend_variance",
        "budget_spend_variance_ratio",
        "budget_period_elapsed_ratio",
        "budget_average_daily_spend",
        "budget_ideal_daily_spend",
    }


@pytest.mark.parametrize("bound", ["lower_95", "upper_95"])
def test_the_95_percent_bounds_are_optional(tmp_path, bound):
    lean_text = _series(tmp_path, "")
    assert lean_text["budget_forecast_spend"] == 3  # mean and the 80% bounds
    full = _series(tmp_path, "series: {forecast_95: true}\n")
    assert full["budget_forecast_spend"] == 5
