"""The immutable result of one evaluation: everything a scrape serves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ..model.metric_family import ProviderMetric
from ..money.anomaly import AnomalyContributor
from ..money.budgets import BudgetStatus
from ..money.forecast import Forecast
from ..money.insights import BudgetInsights
from ..money.planning import PlannedAmount
from ..slo.analytics import SloAnalytics
from ..slo.error_budget import SloStatus


@dataclass(frozen=True)
class ProviderHealth:
    """How the latest refreshes of one provider went."""

    name: str
    type: str
    up: bool
    last_success: datetime | None = None
    last_attempt: datetime | None = None
    duration_seconds: float = 0.0
    errors_total: int = 0
    bad_rows: int = 0
    rows: int = 0
    data_end: datetime | None = None
    settled_through: datetime | None = None
    last_error: str | None = None
    max_data_age_seconds: float | None = None
    extra: tuple[ProviderMetric, ...] = ()  # provider-specific samples (API requests...)
    # The last answer shrank sharply on settled days: refused, the last good data served.
    suspect: bool = False


@dataclass(frozen=True)
class BudgetEntry:
    """A budget's status plus the identity it is exported with."""

    status: BudgetStatus
    labels: Mapping[str, str] = field(default_factory=dict)
    provider: str = ""
    parent: str = ""
    children_limit: float | None = None
    forecast: Forecast | None = None
    plan: PlannedAmount | None = None  # how the limit in force was derived
    insights: BudgetInsights | None = None
    # The breakdown value most above its usual level on the newest day, when one stands out.
    anomaly_contributor: AnomalyContributor | None = None
    # Spend of the period per job (config ``jobs.dimension``): releases reservations by tag.
    job_spend: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SloEntry:
    """An SLO's status plus the identity it is exported with."""

    status: SloStatus
    labels: Mapping[str, str] = field(default_factory=dict)
    provider: str = ""
    period: str = ""  # "30d" for a rolling window, "month" or "quarter" for calendar ones
    analytics: SloAnalytics | None = None  # daily burn statistics, unusual days, advice


@dataclass(frozen=True)
class Snapshot:
    """Budgets and provider health at ``taken_at``."""

    taken_at: datetime
    currency: str
    budgets: tuple[BudgetEntry, ...]
    providers: tuple[ProviderHealth, ...]
    evaluation_seconds: float = 0.0
    slos: tuple[SloEntry, ...] = ()
    # Rate in force at taken_at per source currency: one unit is worth this much in ``currency``.
    exchange_rates: Mapping[str, float] = field(default_factory=dict)
    # Each provider's own spend today, this month and this year, whatever the budgets.
    provider_spend: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    # Optional metric families switched on (config ``series:``); None: every one.
    series: frozenset[str] | None = None
    # Budgets whose forecast model is not fit yet: the fits per evaluation are capped, so a
    # first evaluation of thousands of budgets leaves some for the next ones.
    forecasts_waiting: tuple[str, ...] = ()
    # Money reservations hold per budget (its own and its children's), as the service read
    # them when it published this snapshot.
    reserved: Mapping[str, float] = field(default_factory=dict)
    # The config's thresholds when every budget on them may share one exported set (each name
    # on the severity ladder, which the rules join rung by rung); None: each budget exports its
    # own thresholds.
    shared_thresholds: Mapping[str, float] | None = None
