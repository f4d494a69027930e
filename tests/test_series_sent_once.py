"""What a budget has in common with other series is not sent again for it.

Hand-computed cases on November 2026 (30 days) at November 18, 12:00 UTC, with cost data of
10 a day up to the end of November 16 (the provider's newest data, 2026-11-17T00:00Z):

- a monthly budget of that one provider is 16 days into its period by its data: its data-as-of
  time is the provider's series, its expected spend the limit spread evenly (2000 x 16/30);
- a budget of every provider, or a daily budget whose period started after the newest data
  (its figures are as of the period start, 2026-11-18T00:00Z), sends its own data-as-of time;
- a 300 purchase on November 1 (provider ``other``) is a step the plan expects at once:
  300 + 1700 x 16/30;
- budgets on the config's thresholds share one set of three series; a budget with its own
  sends its own, and one whose own equal the config's shares them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from budget_exporter.config.loader import parse_config
from budget_exporter.evaluation.evaluate import evaluate
from budget_exporter.evaluation.snapshot import ProviderHealth, Snapshot
from budget_exporter.metrics.exposition import render
from budget_exporter.metrics.history import history_families
from budget_exporter.model.costs import CostData, normalize

AT = datetime(2026, 11, 18, 12, tzinfo=UTC)
NEWEST = datetime(2026, 11, 17, tzinfo=UTC)

CONFIG = """
providers:
  bill: {type: demo}
  other: {type: demo}
budgets:
  - {name: one, amount: 2000, period: monthly, provider: bill}
  - {name: every, amount: 2000, period: monthly}
  - {name: today, amount: 100, period: daily, provider: bill}
  - {name: bought, amount: 2000, period: monthly, provider: other}
  - {name: strict, amount: 2000, period: monthly, provider: bill, thresholds: {warning: 0.8}}
  - name: same
    amount: 2000
    period: monthly
    provider: bill
    thresholds: {notice: 0.75, warning: 0.9, critical: 1.0}
"""


def _rows(first: date, days: int, cost: float, category: str = "usage") -> list[dict]:
    return [
        {
            "start": pd.Timestamp(first + timedelta(days=d), tz="UTC"),
            "end": pd.Timestamp(first + timedelta(days=d + 1), tz="UTC"),
            "cost": cost,
            "currency": "USD",
            "charge_category": category,
        }
        for d in range(days)
    ]


def _snapshot(config_text: str = CONFIG) -> Snapshot:
    config = parse_config(config_text)
    usage = _rows(date(2026, 10, 1), 47, 10.0)
    data = {
        "bill": CostData(frame=normalize(pd.DataFrame(usage)), data_end=NEWEST),
        "other": CostData(
            frame=normalize(pd.DataFrame(usage + _rows(date(2026, 11, 1), 1, 300.0, "purchase"))),
            data_end=NEWEST,
        ),
    }
    health = tuple(
        ProviderHealth(name=name, type="demo", up=True, data_end=NEWEST) for name in data
    )
    return evaluate(config, data, health, AT)


def _samples(snapshot: Snapshot) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = render(snapshot).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _of(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def _budgets_with(samples: dict, name: str) -> set[str]:
    return {dict(labels)["budget"] for metric, labels in samples if metric == name}


def test_the_data_as_of_time_goes_out_only_where_it_is_not_the_providers():
    samples = _samples(_snapshot())
    newest = NEWEST.timestamp()
    for provider in ("bill", "other"):
        labels = {"provider": provider, "type": "demo"}
        assert _of(samples, "budget_exporter_provider_data_newest_timestamp_seconds", **labels) == (
            newest
        )
    name = "budget_data_as_of_timestamp_seconds"
    assert _budgets_with(samples, name) == {"every", "today"}
    assert _of(samples, name, budget="every") == newest  # the oldest of every provider's data
    assert _of(samples, name, budget="today") == datetime(2026, 11, 18, tzinfo=UTC).timestamp()


def test_backfilled_history_keeps_every_data_as_of_time_since_it_has_no_provider_series():
    found = {
        sample.labels["budget"]
        for metric in history_families(_snapshot())
        for sample in metric.samples
        if sample.name == "budget_data_as_of_timestamp_seconds"
    }
    assert found == {"one", "every", "today", "bought", "strict", "same"}


def test_the_expected_spend_goes_out_only_for_a_budget_with_purchases_or_fees_at_once():
    snapshot = _snapshot()
    samples = _samples(snapshot)
    name = "budget_expected_spend"
    # every combines both providers, so it has the purchase too.
    assert _budgets_with(samples, name) == {"bought", "every"}
    for budget in ("bought", "every"):
        assert _of(samples, name, budget=budget, currency="USD") == pytest.approx(
            300 + 1700 * 16 / 30
        )
    # The others' figure is still computed (JSON API, report): the limit spread evenly.
    entries = {entry.status.name: entry for entry in snapshot.budgets}
    insights = entries["one"].insights
    assert insights is not None
    assert insights.variance.expected == pytest.approx(2000 * 16 / 30)


def test_budgets_on_the_configs_thresholds_share_one_set():
    samples = _samples(_snapshot())
    shared = {
        dict(labels)["severity"]: value
        for (metric, labels), value in samples.items()
        if metric == "budget_default_alert_threshold_ratio"
    }
    assert shared == {"notice": 0.75, "warning": 0.9, "critical": 1.0}
    assert _budgets_with(samples, "budget_alert_threshold_ratio") == {"strict"}
    assert _of(samples, "budget_alert_threshold_ratio", budget="strict", severity="warning") == 0.8


def test_thresholds_off_the_severity_ladder_go_out_per_budget_as_the_rules_need():
    config = CONFIG.replace("providers:", "thresholds: {notice: 0.5, breach: 0.8}\nproviders:")
    samples = _samples(_snapshot(config))
    assert not any(metric == "budget_default_alert_threshold_ratio" for metric, _ in samples)
    assert _budgets_with(samples, "budget_alert_threshold_ratio") == {
        "one",
        "every",
        "today",
        "bought",
        "strict",
        "same",
    }
    assert _of(samples, "budget_alert_threshold_ratio", budget="one", severity="breach") == 0.8
