"""Snapshot SLOs -> Prometheus metric families.

Sample of the exposition::

    # HELP slo_burn_rate Bad-time ratio over the window divided by the ratio the objective ...
    # TYPE slo_burn_rate gauge
    slo_burn_rate{slo="checkout-availability",team="web",window="1h"} 83.3

Every series carries ``slo`` and the SLO's configured labels. Cardinality is bounded by the
config: fixed windows, methods and horizons per SLO, and at most ten categories per SLO.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from ..evaluation.snapshot import SloEntry, Snapshot

# (key, metric name, help)
_FAMILIES = (
    (
        "info",
        "slo_info",
        "SLO metadata: incident provider, period (30d rolling, or month/quarter) and the SLO's "
        "own labels; always 1. Join on slo to add these labels to queries.",
    ),
    ("objective", "slo_objective_ratio", "Target share of good time, e.g. 0.999."),
    (
        "start",
        "slo_window_start_timestamp_seconds",
        "Start of the SLO window that the budget and consumption cover.",
    ),
    (
        "budget",
        "slo_error_budget_seconds",
        "Bad time the objective allows over the whole window (30d at 99.9% = 2592s).",
    ),
    (
        "consumed",
        "slo_error_budget_consumed_seconds",
        "Impact-weighted bad time of counted incidents in the window so far (overlaps once).",
    ),
    (
        "remaining",
        "slo_error_budget_remaining_seconds",
        "Error budget left in the window; negative when the SLO is already missed.",
    ),
    (
        "remaining_ratio",
        "slo_error_budget_remaining_ratio",
        "Error budget left as a share of the budget: 1 untouched, 0 used up, below 0 missed. "
        "Freeze risky changes as it nears 0.",
    ),
    (
        "burn",
        "slo_burn_rate",
        "Bad-time ratio over the window divided by the ratio the objective allows: 1 uses "
        "exactly the budget; page at 14.4 over 1h and 5m. window=period covers the SLO window.",
    ),
    (
        "exhaustion",
        "slo_error_budget_projected_exhaustion_timestamp_seconds",
        "When the error budget runs out by the method (burn_rate: the last hour's rate; "
        "linear_regression: the daily trend); in the past when already out, absent when not "
        "running out within the window.",
    ),
    (
        "probability",
        "slo_error_budget_exhaustion_probability",
        "Probability that the error budget runs out within the horizon, from the frequency "
        "and length of past incidents (see docs/slo.md).",
    ),
    (
        "category",
        "slo_error_budget_consumed_by_category_seconds",
        "Bad time in the window by incident category (top 10, the rest as other); shows "
        "whether deployments or incidents spend the budget.",
    ),
    (
        "open",
        "slo_open_incidents",
        "Counted incidents open now; each one is consuming error budget while it lasts.",
    ),
    (
        "incidents",
        "slo_window_incidents",
        "Counted incidents that overlap the SLO window.",
    ),
)


def _add(family: Metric, labels: dict[str, str], value: float) -> None:
    family.add_sample(family.name, labels, float(value))


def _add_slo(f: dict[str, Metric], entry: SloEntry) -> None:
    status = entry.status
    base = {"slo": status.name, **entry.labels}
    _add(f["info"], {**base, "provider": entry.provider, "period": entry.period}, 1)
    _add(f["objective"], base, status.objective)
    _add(f["start"], base, status.window_start.timestamp())
    _add(f["budget"], base, status.budget_seconds)
    _add(f["consumed"], base, status.consumed_seconds)
    _add(f["remaining"], base, status.remaining_seconds)
    _add(f["remaining_ratio"], base, status.remaining_ratio)
    for window, rate in status.burn_rates.items():
        _add(f["burn"], {**base, "window": window}, rate)
    for method, moment in status.exhaustion.items():
        _add(f["exhaustion"], {**base, "method": method}, moment.timestamp())
    for horizon, probability in status.exhaustion_probability.items():
        _add(f["probability"], {**base, "horizon": horizon}, probability)
    for category, seconds in status.consumed_by_category:
        _add(f["category"], {**base, "category": category}, seconds)
    _add(f["open"], base, status.open_incidents)
    _add(f["incidents"], base, status.window_incidents)


def slo_families(snapshot: Snapshot) -> Iterator[Metric]:
    """The SLO metric families of a snapshot; none when no SLO is configured."""
    if not snapshot.slos:
        return
    f = {key: Metric(name, documentation, "gauge") for key, name, documentation in _FAMILIES}
    for entry in snapshot.slos:
        _add_slo(f, entry)
    yield from f.values()
