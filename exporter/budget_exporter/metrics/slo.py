"""Snapshot SLOs -> Prometheus metric families.

Sample of the exposition::

    # HELP slo_burn_rate Bad-time ratio over the window divided by the ratio the objective ...
    # TYPE slo_burn_rate gauge
    slo_burn_rate{slo="checkout-availability",team="web",window="1h"} 83.3

Every series carries ``slo`` and the SLO's configured labels. Cardinality is bounded by the
config: fixed windows, methods and horizons per SLO, at most ten categories per SLO, one advice
state, and seven weekdays when the weekday pattern is switched on.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from ..evaluation.snapshot import SloEntry, Snapshot
from ..model.metric_family import FamilySpec
from .family import Family, exposed, new_families

INFO = FamilySpec(
    "slo_info",
    "SLO metadata: incident provider, period (30d rolling, or month/quarter) and the SLO's "
    "own labels; always 1. Join on slo to add these labels to queries.",
    "slo",
    ("provider", "period"),
)
OBJECTIVE = FamilySpec("slo_objective_ratio", "Target share of good time, e.g. 0.999.", "slo")
WINDOW_START = FamilySpec(
    "slo_window_start_timestamp_seconds",
    "Start of the SLO window that the budget and consumption cover.",
    "slo",
)
ERROR_BUDGET = FamilySpec(
    "slo_error_budget_seconds",
    "Bad time the objective allows over the whole window (30d at 99.9% = 2592s).",
    "slo",
)
CONSUMED = FamilySpec(
    "slo_error_budget_consumed_seconds",
    "Impact-weighted bad time of counted incidents in the window so far (overlaps once).",
    "slo",
)
REMAINING = FamilySpec(
    "slo_error_budget_remaining_seconds",
    "Error budget left in the window; negative when the SLO is already missed.",
    "slo",
)
REMAINING_RATIO = FamilySpec(
    "slo_error_budget_remaining_ratio",
    "Error budget left as a share of the budget: 1 untouched, 0 used up, below 0 missed. "
    "Freeze risky changes as it nears 0.",
    "slo",
)
BURN_RATE = FamilySpec(
    "slo_burn_rate",
    "Bad-time ratio over the window divided by the ratio the objective allows: 1 uses "
    "exactly the budget; page at 14.4 over 1h and 5m. window=period covers the SLO window.",
    "slo",
    ("window",),
)
EXHAUSTION = FamilySpec(
    "slo_error_budget_projected_exhaustion_timestamp_seconds",
    "When the error budget runs out by the method (burn_rate: the last hour's rate; "
    "linear_regression: the daily trend; average: the window's consumption so far per "
    "second it covers); in the past when already out, absent when not running out within "
    "the window.",
    "slo",
    ("method",),
)
EXHAUSTION_PROBABILITY = FamilySpec(
    "slo_error_budget_exhaustion_probability",
    "Probability that the error budget runs out within the horizon, from the frequency "
    "and length of past incidents (see docs/slo.md).",
    "slo",
    ("horizon",),
)
CONSUMED_BY_CATEGORY = FamilySpec(
    "slo_error_budget_consumed_by_category_seconds",
    "Bad time in the window by incident category (top 10, the rest as other); shows "
    "whether deployments or incidents spend the budget.",
    "slo",
    ("category",),
)
OPEN_INCIDENTS = FamilySpec(
    "slo_open_incidents",
    "Counted incidents open now; each one is consuming error budget while it lasts.",
    "slo",
)
WINDOW_INCIDENTS = FamilySpec(
    "slo_window_incidents", "Counted incidents that overlap the SLO window.", "slo"
)
DAILY_BURN_MEAN = FamilySpec(
    "slo_daily_burn_rate_mean",
    "Mean burn rate of the complete local days of the SLO window (a day's bad time over "
    "its even share of the budget); above 1 the usual day spends too much.",
    "slo",
)
DAILY_BURN_P95 = FamilySpec(
    "slo_daily_burn_rate_p95",
    "95th percentile of the daily burn rates of the SLO window: how bad a bad day gets. "
    "Far above the mean, a few days spend the budget.",
    "slo",
)
ANOMALOUS_DAYS = FamilySpec(
    "slo_burn_anomalies",
    "Complete days of the SLO window whose bad time is more than 3 standard deviations "
    "above the window's daily mean; report --slo lists them.",
    "slo",
)
ADVICE = FamilySpec(
    "slo_error_budget_advice",
    "What the exhaustion probability asks for, as the advice label (always 1; one series "
    "per SLO): ok (below 10%), watch (below 50%: review risky changes) or act (50% or "
    "more: spend on reliability first).",
    "slo",
    ("advice",),
)
WEEKDAY_BURN_RATE = FamilySpec(
    "slo_weekday_burn_rate",
    "Mean burn rate of each weekday over the complete days of the SLO window: the "
    "weekdays that spend the error budget (deployment days, batch nights).",
    "slo",
    ("weekday",),
    optional="weekday_pattern",
)
DAILY_CONSUMPTION_TREND = FamilySpec(
    "slo_daily_consumption_trend_seconds",
    "Change of the daily bad time per day over the SLO window (least-squares slope), "
    "in seconds; read it with slo_daily_consumption_trend_p_value.",
    "slo",
    optional="trend",
)
DAILY_CONSUMPTION_TREND_P_VALUE = FamilySpec(
    "slo_daily_consumption_trend_p_value",
    "Probability of a slope this steep if daily bad time had no trend; below 0.05 the "
    "trend is significant.",
    "slo",
    optional="trend",
)

FAMILIES = (
    INFO,
    OBJECTIVE,
    WINDOW_START,
    ERROR_BUDGET,
    CONSUMED,
    REMAINING,
    REMAINING_RATIO,
    BURN_RATE,
    EXHAUSTION,
    EXHAUSTION_PROBABILITY,
    CONSUMED_BY_CATEGORY,
    OPEN_INCIDENTS,
    WINDOW_INCIDENTS,
    DAILY_BURN_MEAN,
    DAILY_BURN_P95,
    ANOMALOUS_DAYS,
    ADVICE,
    WEEKDAY_BURN_RATE,
    DAILY_CONSUMPTION_TREND,
    DAILY_CONSUMPTION_TREND_P_VALUE,
)


def slo_families(snapshot: Snapshot) -> Iterator[Metric]:
    """The SLO metric families of a snapshot; none when no SLO is configured."""
    if not snapshot.slos:
        return
    f = new_families(FAMILIES, snapshot.series)
    for entry in snapshot.slos:
        _add_slo(f, entry)
    yield from exposed(f)


def _add_slo(f: dict[FamilySpec, Family], entry: SloEntry) -> None:
    status = entry.status
    base = {"slo": status.name, **entry.labels}
    f[INFO].add({**base, "provider": entry.provider, "period": entry.period}, 1)
    f[OBJECTIVE].add(base, status.objective)
    f[WINDOW_START].add(base, status.window_start.timestamp())
    f[ERROR_BUDGET].add(base, status.budget_seconds)
    f[CONSUMED].add(base, status.consumed_seconds)
    f[REMAINING].add(base, status.remaining_seconds)
    f[REMAINING_RATIO].add(base, status.remaining_ratio)
    for window, rate in status.burn_rates.items():
        f[BURN_RATE].add({**base, "window": window}, rate)
    for method, moment in status.exhaustion.items():
        f[EXHAUSTION].add({**base, "method": method}, moment.timestamp())
    for horizon, probability in status.exhaustion_probability.items():
        f[EXHAUSTION_PROBABILITY].add({**base, "horizon": horizon}, probability)
    for category, seconds in status.consumed_by_category:
        f[CONSUMED_BY_CATEGORY].add({**base, "category": category}, seconds)
    f[OPEN_INCIDENTS].add(base, status.open_incidents)
    f[WINDOW_INCIDENTS].add(base, status.window_incidents)
    found = entry.analytics
    if found is None:
        return
    if found.mean_burn_rate is not None and found.p95_burn_rate is not None:
        f[DAILY_BURN_MEAN].add(base, found.mean_burn_rate)
        f[DAILY_BURN_P95].add(base, found.p95_burn_rate)
    f[ANOMALOUS_DAYS].add(base, len(found.anomalous_days))
    # Only the state in force: users pay per series, and the others would hold zeros.
    f[ADVICE].add({**base, "advice": found.advice.value}, 1)
    for weekday, burn in found.weekday_burn_rates.items():
        f[WEEKDAY_BURN_RATE].add({**base, "weekday": weekday}, burn)
    if found.trend is not None:
        f[DAILY_CONSUMPTION_TREND].add(base, found.trend.slope)
        f[DAILY_CONSUMPTION_TREND_P_VALUE].add(base, found.trend.p_value)
