"""The breakdown value behind a budget's unusual day, named with its spend and its usual level.

Sample of the exposition::

    # HELP budget_cost_anomaly_contributor_spend Spend on the newest complete day of the ...
    # TYPE budget_cost_anomaly_contributor_spend gauge
    budget_cost_anomaly_contributor_spend{budget="ml",dimension="ServiceName",value="Vertex AI"} 412

Two series per budget at most, and only while one value stands out.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from ..evaluation.snapshot import Snapshot
from ..model.metric_family import FamilySpec
from .family import exposed, new_families

CONTRIBUTOR_SPEND = FamilySpec(
    "budget_cost_anomaly_contributor_spend",
    "Spend on the newest complete day of the breakdown value most above its usual level "
    "(present only while one stands out), in currency: what drove budget_cost_anomaly_score.",
    "budget",
    ("currency", "dimension", "value"),
)
CONTRIBUTOR_USUAL_SPEND = FamilySpec(
    "budget_cost_anomaly_contributor_usual_spend",
    "What that breakdown value usually spends on this weekday (median of recent weeks), in "
    "currency: compare with budget_cost_anomaly_contributor_spend.",
    "budget",
    ("currency", "dimension", "value"),
)

FAMILIES = (CONTRIBUTOR_SPEND, CONTRIBUTOR_USUAL_SPEND)


def anomaly_families(snapshot: Snapshot) -> Iterator[Metric]:
    """The top anomaly contributor of each budget where one stands out."""
    f = new_families(FAMILIES, snapshot.series)
    for entry in snapshot.budgets:
        found = entry.anomaly_contributor
        if found is None:
            continue
        labels = {
            "budget": entry.status.name,
            **entry.labels,
            "currency": snapshot.currency,
            "dimension": found.dimension,
            "value": found.value,
        }
        f[CONTRIBUTOR_SPEND].add(labels, found.anomaly.spend)
        f[CONTRIBUTOR_USUAL_SPEND].add(labels, found.anomaly.usual)
    yield from exposed(f)
