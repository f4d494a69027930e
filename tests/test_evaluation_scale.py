"""Evaluation that does not grow with the bill: the index is built once per data change, a
truncated source is refused, and budgets left without a forecast are named."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from attacks import attack
from budget_exporter.config.loader import parse_config
from budget_exporter.metrics.exposition import render
from budget_exporter.service.refresh import Refresher

NOW = datetime(2024, 11, 20, tzinfo=UTC)

CONFIG = """
providers:
  costs: {type: csv, paths: [costs.csv], dimensions: [team], settlement_lag: 1d}
budgets:
"""


def days(count: int, cost: float = 10.0, first: int = 0) -> str:
    """Daily rows from 1 October on (day 31 is 1 November), from day ``first`` to ``count``."""
    return "date,cost,team\n" + "".join(
        f"2024-{10 + (day // 31):02d}-{1 + day % 31:02d},{cost},t{day % 3}\n"
        for day in range(first, count)
    )


def refresher(folder: Path, budgets: int = 2) -> Refresher:
    text = CONFIG + "".join(
        f"  - {{name: b{n}, amount: 100, period: monthly, filter: {{team: t{n % 3}}}}}\n"
        for n in range(budgets)
    )
    return Refresher(parse_config(text, str(folder / "c.yml"), str(folder)))


def test_the_cost_index_is_built_once_per_data_change_not_per_evaluation(tmp_path: Path) -> None:
    (tmp_path / "costs.csv").write_text(days(50))
    exporter = refresher(tmp_path)
    exporter.refresh(NOW)
    exporter.snapshot(NOW)
    built = exporter.indexes.builds  # the provider's index, and the one over all providers
    exporter.snapshot(NOW)
    assert exporter.indexes.builds == built == 2
    (tmp_path / "costs.csv").write_text(days(50, cost=11.0))
    exporter.refresh(NOW, ["costs"])
    assert exporter.snapshot(NOW).budgets[0].status.spend > 0
    assert exporter.indexes.builds == built + 2


@attack(
    "cost and incident files",
    "a source cut to part of its settled days",
    "refused as suspect, flagged by budget_exporter_provider_suspect",
    found=12,
)
def test_a_source_cut_to_part_of_its_settled_days_is_refused_and_flagged(tmp_path: Path) -> None:
    (tmp_path / "costs.csv").write_text(days(50))
    exporter = refresher(tmp_path)
    exporter.refresh(NOW)
    good = exporter.data["costs"]
    (tmp_path / "costs.csv").write_text(days(50, first=35))  # cut: most settled days gone
    exporter.refresh(NOW, ["costs"])
    health = exporter.health["costs"]
    assert (health.up, health.suspect) == (False, True)
    assert "settled cost before 2024-11-19 fell from 490.00 to 140.00" in str(health.last_error)
    assert exporter.data["costs"] is good
    assert (
        'budget_exporter_provider_suspect{provider="costs",type="csv"} 1.0'
        in render(exporter.snapshot(NOW)).decode()
    )


def test_the_same_shrunk_answer_three_times_is_a_restatement_and_accepted(tmp_path: Path) -> None:
    (tmp_path / "costs.csv").write_text(days(50))
    exporter = refresher(tmp_path)
    exporter.refresh(NOW)
    (tmp_path / "costs.csv").write_text(days(50, first=35))
    ups = []
    for _ in range(3):
        exporter.refresh(NOW, ["costs"])
        ups.append(exporter.health["costs"].up)
    assert ups == [False, False, True]
    assert not exporter.health["costs"].suspect


def test_budgets_beyond_the_fit_cap_are_counted_and_named_as_waiting(
    tmp_path: Path, caplog
) -> None:
    (tmp_path / "costs.csv").write_text(days(50))
    exporter = refresher(tmp_path, budgets=5)
    exporter.forecasts.max_fits = 2
    exporter.refresh(NOW)
    with caplog.at_level(logging.WARNING):
        snapshot = exporter.snapshot(NOW)
    assert snapshot.forecasts_waiting == ("b2", "b3", "b4")
    assert "budget_exporter_forecasts_waiting 3.0" in render(snapshot).decode()
    assert "3 budgets still wait for their forecast" in caplog.text and "b2, b3, b4" in caplog.text
    assert exporter.snapshot(NOW).forecasts_waiting == ("b4",)
    assert exporter.snapshot(NOW).forecasts_waiting == ()
