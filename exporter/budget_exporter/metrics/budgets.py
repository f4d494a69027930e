"""Budget spend families of a snapshot, and the exchange rates the spend was converted at.

Sample of the exposition::

    # HELP budget_utilization_ratio Spend so far in the current period divided by the limit ...
    # TYPE budget_utilization_ratio gauge
    budget_utilization_ratio{budget="platform",team="platform"} 0.41

Cardinality is bounded by the config: one series per budget and fixed label value (windows,
severities), plus breakdowns capped at ``top`` values per dimension and budget, the rest summed
into ``value="other"``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime

from prometheus_client.core import Metric

from ..evaluation.snapshot import BudgetEntry, Snapshot
from ..model.metric_family import FamilySpec
from ..money.budgets import ratio_of
from .family import Family, exposed, new_families

INFO = FamilySpec(
    "budget_info",
    "Budget metadata: period, provider (empty: all providers), parent budget and the "
    "budget's own labels; always 1. Join on budget to add these labels to queries.",
    "budget",
    ("period", "provider", "parent"),
)
LIMIT = FamilySpec(
    "budget_limit", "Budget limit for the current period, in currency.", "budget", ("currency",)
)
SPEND = FamilySpec(
    "budget_spend",
    "Spend so far in the current period (credits and refunds lower it), in currency.",
    "budget",
    ("currency",),
)
REMAINING = FamilySpec(
    "budget_remaining",
    "Limit minus spend for the current period, in currency; negative when overspent.",
    "budget",
    ("currency",),
)
UTILIZATION = FamilySpec(
    "budget_utilization_ratio",
    "Spend so far in the current period divided by the limit (1 = budget used up). "
    "Compare with budget_alert_threshold_ratio.",
    "budget",
)
ELAPSED = FamilySpec(
    "budget_period_elapsed_ratio",
    "Share of the current period that has passed (0 at its start, 1 at its end); the same as "
    "clamp((time() - budget_period_start_timestamp_seconds) / (budget_period_end_timestamp_"
    "seconds - budget_period_start_timestamp_seconds), 0, 1).",
    "budget",
    optional="derived_rates",
)
SPEND_TODAY = FamilySpec(
    "budget_spend_today",
    "Spend of the current day so far, in the configured time zone, in currency (credits lower "
    "it): its highest value in a day is that day's spend, for a daily bar chart.",
    "budget",
    ("currency",),
)
AVERAGE_DAILY = FamilySpec(
    "budget_average_daily_spend",
    "Average spend per day in the current period up to the newest cost data: budget_spend "
    "over the days from budget_period_start_timestamp_seconds to "
    "budget_data_as_of_timestamp_seconds.",
    "budget",
    ("currency",),
    optional="derived_rates",
)
BURN_RATE = FamilySpec(
    "budget_burn_rate",
    "Spend pace over the window divided by the pace that uses exactly the limit by "
    "period end: 1 = on pace, 2 = twice too fast. window=period is period-to-date.",
    "budget",
    ("window",),
)
EXHAUSTION = FamilySpec(
    "budget_projected_exhaustion_timestamp_seconds",
    "When spend reaches the limit at the method's pace (Unix time); in the past when "
    "already reached, absent when the limit holds this period.",
    "budget",
    ("method",),
)
PERIOD_START = FamilySpec(
    "budget_period_start_timestamp_seconds", "Start of the current budget period.", "budget"
)
PERIOD_END = FamilySpec(
    "budget_period_end_timestamp_seconds",
    "End of the current budget period (the budget resets then).",
    "budget",
)
THRESHOLD = FamilySpec(
    "budget_alert_threshold_ratio",
    "Alert threshold of each severity as a ratio of the limit, for a budget whose thresholds "
    "are not the config's defaults (the others share budget_default_alert_threshold_ratio); "
    "alert rules compare budget_utilization_ratio against it.",
    "budget",
    ("severity",),
)
DEFAULT_THRESHOLD = FamilySpec(
    "budget_default_alert_threshold_ratio",
    "The config's alert threshold of each severity as a ratio of the limit, once for every "
    "budget without a budget_alert_threshold_ratio of its own: a budget's thresholds are its "
    "own series, or else these (rules pair them with each budget one severity at a time: "
    'budget_default_alert_threshold_ratio{severity="warning"} <= on(job, instance) '
    "group_right(severity) (budget_utilization_ratio unless on(budget, job, instance) "
    "budget_alert_threshold_ratio)).",
    "exporter",
    ("severity",),
)
THRESHOLD_REACHED = FamilySpec(
    "budget_threshold_reached",
    "1 when utilization has reached the severity's threshold, else 0 (the same as "
    "budget_alert_threshold_ratio <= bool ignoring(severity) group_left() "
    "budget_utilization_ratio).",
    "budget",
    ("severity",),
    optional="threshold_states",
)
DATA_AS_OF = FamilySpec(
    "budget_data_as_of_timestamp_seconds",
    "End of the newest cost data used for this budget; burn-rate windows end here. Exported "
    "only where it is not its provider's budget_exporter_provider_data_newest_timestamp_"
    "seconds (a budget of every provider, a period that began after or ended before the "
    "newest data); for every budget: "
    "budget_data_as_of_timestamp_seconds or on(budget, job, instance) max without(period, "
    "provider, parent) (budget_info * on(provider, job, instance) group_left() "
    "budget_exporter_provider_data_newest_timestamp_seconds).",
    "budget",
)
CHILDREN_LIMIT = FamilySpec(
    "budget_children_limit",
    "Sum of the child budgets' limits, scaled to this budget's period, in currency.",
    "budget",
    ("currency",),
)
CHILDREN_ALLOCATION = FamilySpec(
    "budget_children_allocation_ratio",
    "Children's limits divided by this budget's limit; above 1 the parent is over-allocated.",
    "budget",
)
SPEND_BY_DIMENSION = FamilySpec(
    "budget_spend_by_dimension",
    "Spend so far in the current period by value of a dimension (top values per "
    'budget, the rest summed into value="other"), in currency.',
    "budget",
    ("currency", "dimension", "value"),
)

NEW_PURCHASE = FamilySpec(
    "budget_new_purchase_spend",
    "A purchase this period of a service and SKU not bought in the 92 days before (a first "
    "Savings Plan, a new reservation), in currency; a renewal every month is not new. It "
    "counts in spend and thresholds, not in the pace.",
    "budget",
    ("currency", "service", "sku"),
)

RESERVED = FamilySpec(
    "budget_reserved",
    "Money held by reservations of planned spend on this budget and the budgets below it, "
    "less their jobs' cost already in the data, in currency; only while some are held. "
    "budget_remaining minus this is what a new reservation can still get.",
    "budget",
    ("currency",),
)

FAMILIES = (
    INFO,
    LIMIT,
    SPEND,
    SPEND_TODAY,
    REMAINING,
    UTILIZATION,
    ELAPSED,
    AVERAGE_DAILY,
    BURN_RATE,
    EXHAUSTION,
    PERIOD_START,
    PERIOD_END,
    THRESHOLD,
    DEFAULT_THRESHOLD,
    THRESHOLD_REACHED,
    DATA_AS_OF,
    CHILDREN_LIMIT,
    CHILDREN_ALLOCATION,
    SPEND_BY_DIMENSION,
    NEW_PURCHASE,
    RESERVED,
)

EXCHANGE_RATE = FamilySpec(
    "budget_exchange_rate",
    "Exchange rate in force from the config: one unit of source_currency is worth this "
    "much of the reporting currency. Rows of each month convert at that month's rate.",
    "exporter",
    ("source_currency", "currency"),
)
CURRENCY_FAMILIES = (EXCHANGE_RATE,)


def budget_families(snapshot: Snapshot, with_providers: bool = True) -> Iterator[Metric]:
    """The spend families, one sample set per budget.

    ``with_providers``: the provider families go out beside these (not in backfilled history),
    so a budget's data-as-of time that equals its provider's newest data is left to that series.
    """
    f = new_families(FAMILIES, snapshot.series)
    newest = (
        {h.name: h.data_end for h in snapshot.providers if h.data_end is not None}
        if with_providers
        else {}
    )
    shared = snapshot.shared_thresholds
    if shared is not None:
        for severity, ratio in shared.items():
            f[DEFAULT_THRESHOLD].add({"severity": severity}, ratio)
    for entry in snapshot.budgets:
        _add_budget(f, entry, snapshot.currency, newest, shared)
        held = snapshot.reserved.get(entry.status.name, 0.0)
        if held > 0:  # a series only while something is held: no cost for budgets without
            money = {"budget": entry.status.name, **entry.labels, "currency": snapshot.currency}
            f[RESERVED].add(money, held)
    yield from exposed(f)


def _add_budget(
    f: dict[FamilySpec, Family],
    entry: BudgetEntry,
    currency: str,
    newest: Mapping[str, datetime],
    shared: Mapping[str, float] | None,
) -> None:
    status = entry.status
    base = {"budget": status.name, **entry.labels}
    money = {**base, "currency": currency}
    f[INFO].add(
        {
            **base,
            "period": status.period.kind.value,
            "provider": entry.provider,
            "parent": entry.parent,
        },
        1,
    )
    f[LIMIT].add(money, status.limit)
    f[SPEND].add(money, status.spend)
    f[SPEND_TODAY].add(money, status.spend_today)
    f[REMAINING].add(money, status.remaining)
    f[UTILIZATION].add(base, status.utilization)
    f[ELAPSED].add(base, status.elapsed_ratio)
    f[AVERAGE_DAILY].add(money, status.average_daily_spend)
    for window, rate in status.burn_rates.items():
        f[BURN_RATE].add({**base, "window": window}, rate)
    if status.projected_exhaustion is not None:
        f[EXHAUSTION].add({**base, "method": "pace"}, status.projected_exhaustion.timestamp())
    if entry.forecast is not None and entry.forecast.exhaustion is not None:
        f[EXHAUSTION].add({**base, "method": "forecast"}, entry.forecast.exhaustion.timestamp())
    f[PERIOD_START].add(base, status.period.start.timestamp())
    f[PERIOD_END].add(base, status.period.end.timestamp())
    # What PromQL reads from the provider's series through budget_info is not sent again.
    if not entry.provider or newest.get(entry.provider) != status.as_of:
        f[DATA_AS_OF].add(base, status.as_of.timestamp())
    own = shared is None or dict(status.thresholds) != shared
    for severity, ratio in status.thresholds.items():
        if own:
            f[THRESHOLD].add({**base, "severity": severity}, ratio)
        f[THRESHOLD_REACHED].add({**base, "severity": severity}, status.threshold_reached(severity))
    if entry.children_limit is not None:
        f[CHILDREN_LIMIT].add(money, entry.children_limit)
        f[CHILDREN_ALLOCATION].add(base, ratio_of(entry.children_limit, status.limit))
    for dimension, values in status.breakdown.items():
        for value, amount in values:
            f[SPEND_BY_DIMENSION].add({**money, "dimension": dimension, "value": value}, amount)
    for purchase in status.new_purchases:
        labels = {**money, "service": purchase.service, "sku": purchase.sku}
        f[NEW_PURCHASE].add(labels, purchase.amount)


def currency_families(snapshot: Snapshot) -> Iterator[Metric]:
    """The exchange rates in force, one sample per source currency."""
    f = new_families(CURRENCY_FAMILIES)
    for code, value in sorted(snapshot.exchange_rates.items()):
        f[EXCHANGE_RATE].add({"source_currency": code, "currency": snapshot.currency}, value)
    yield from exposed(f)
