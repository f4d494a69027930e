"""Cached provider data + config + ``now`` -> one immutable Snapshot. Pure: no I/O, no clock."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta

import numpy as np

from ..config.hierarchy import children_limit
from ..config.schema import SEVERITY_LADDER, BudgetConfig, Config, SloConfig
from ..model.costs import CostData, concat_frames
from ..model.incidents import FILTER_FIELDS, IncidentData
from ..model.periods import Calendar, PeriodKind, format_duration, period_containing
from ..money.budgets import (
    FILTER_ALIASES,
    BudgetSpec,
    CostIndex,
    evaluate_budget,
    spend_between,
    spend_by_value,
)
from ..money.currency import rates_in_force
from ..money.planning import PlannedAmount
from ..slo.analytics import slo_analytics
from ..slo.error_budget import SloSpec, evaluate_slo
from .forecast_cache import ForecastCache
from .planning import PatternCache, insights_of, plan_amount, with_insight_dimensions
from .snapshot import BudgetEntry, ProviderHealth, SloEntry, Snapshot
from .templates import ALL_PROVIDERS, expand_templates

# Jobs whose cost a budget keeps per period (the largest): each one a reservation may wait for.
MAX_JOBS_PER_BUDGET = 10_000


def budget_spec(config: Config, budget: BudgetConfig) -> BudgetSpec:
    """The calculation's view of a configured budget."""
    breakdown = config.breakdown_for(budget)
    return BudgetSpec(
        name=budget.name,
        amount=budget.fixed_amount or 1.0,  # the amount in force replaces it in evaluate()
        period=budget.period,
        filter=dict(budget.filter),
        excluded_categories=budget.charges.excluded_categories(),
        thresholds=config.thresholds_for(budget),
        breakdown_dimensions=tuple(breakdown.dimensions),
        breakdown_top=breakdown.top,
        calendar=config.calendar_for(budget),
    )


# The bill's own totals: what the provider's console shows for today, the month and the year.
TOTAL_PERIODS = {"day": PeriodKind.DAILY, "month": PeriodKind.MONTHLY, "year": PeriodKind.YEARLY}


def provider_spend(index: CostIndex, now: datetime, config: Config) -> dict[str, float]:
    """A provider's spend today, this month and this (fiscal) year to ``now``.

    Budgets may overlap (a team's budget and a service's budget count the same rows), so their
    sum is no total; these are, for dashboards that show what the bill says.
    """
    everything = np.ones(len(index), dtype=bool)
    calendar = Calendar(year_start_month=config.fiscal_year_start)
    totals = {}
    for label, kind in TOTAL_PERIODS.items():
        period = period_containing(kind, now, config.zone, calendar)
        totals[label] = spend_between(index, everything, period.start, now)
    return totals


def wanted_dimensions(config: Config) -> frozenset[str]:
    """Every dimension some budget filters, breaks down or recommends on: all that file
    providers need to keep (the rest would multiply rows no budget reads)."""
    wanted: set[str] = set()
    for budget in config.budgets:
        wanted.update(key for key in budget.filter if key not in FILTER_ALIASES)
        wanted.update(config.breakdown_for(budget).dimensions)
        insights = config.insights_for(budget)
        wanted.update((*insights.resource.dimensions, *insights.owner.dimensions))
        if budget.for_each:
            wanted.add(budget.for_each)  # a template's budgets filter on it
    if config.jobs.dimension:
        wanted.add(config.jobs.dimension)  # each job's cost, against its reservations
    return frozenset(wanted)


def _counts_at_start(config: Config, provider: str) -> bool:
    """Whether the provider's charges longer than a day count in full at their start."""
    settings = config.providers.get(provider)
    return settings is not None and settings.accrual_in_force() == "charge_start"


def _data_end(data: Mapping[str, CostData], names: list[str], now: datetime) -> datetime | None:
    ends = [data[name].data_end for name in names if name in data and data[name].data_end]
    return min(min(ends), now) if ends else None  # type: ignore[type-var]


class IndexCache:
    """The ``CostIndex`` of each provider's data, built once per data change, not per evaluation.

    Entries are keyed by the identity of the ``CostData`` (a refresh replaces it) and by the
    accrual in force; the index over all providers is kept for one combination of them.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[CostData, bool, CostIndex]] = {}
        self._combined: tuple[tuple[int, ...], tuple[bool, ...], CostIndex] | None = None
        self.builds = 0

    def indexes(
        self, data: Mapping[str, CostData], at_start: Mapping[str, bool], combined: bool
    ) -> dict[str, CostIndex]:
        """An index per provider, and one over all of them (key ``ALL_PROVIDERS``) if asked."""
        result: dict[str, CostIndex] = {}
        for name, item in data.items():
            entry = self._entries.get(name)
            if entry is None or entry[0] is not item or entry[1] != at_start[name]:
                self.builds += 1
                entry = (item, at_start[name], CostIndex(item.frame, at_start[name]))
                self._entries[name] = entry
            result[name] = entry[2]
        for name in list(self._entries):
            if name not in data:
                del self._entries[name]
        if combined:
            ids = tuple(id(item) for item in data.values())
            flags = tuple(at_start[name] for name in data)
            if self._combined is None or self._combined[:2] != (ids, flags):
                self.builds += 1
                frames = [item.frame for item in data.values()]
                rows = [np.full(len(item.frame), at_start[name]) for name, item in data.items()]
                index = CostIndex(concat_frames(frames), np.concatenate(rows) if rows else False)
                self._combined = (ids, flags, index)
            result[ALL_PROVIDERS] = self._combined[2]
        return result


def evaluate(
    config: Config,
    data: Mapping[str, CostData],
    health: tuple[ProviderHealth, ...],
    now: datetime,
    forecasts: ForecastCache | None = None,
    incidents: Mapping[str, IncidentData] | None = None,
    patterns: PatternCache | None = None,
    indexes_cache: IndexCache | None = None,
) -> Snapshot:
    """Compute every budget from the latest good data of each provider.

    With ``forecasts``, each budget also gets a forecast; models are fit there, not here.
    With ``patterns``, daily spend for the weekday and trend insights is read once a day.
    With ``indexes_cache``, the index of data already seen is reused.
    """
    if forecasts is not None:
        forecasts.begin()
    if patterns is not None:
        patterns.begin()
    indexes = cost_indexes(config, data, indexes_cache or IndexCache())
    # Templates become the budgets they make, from this data and this moment.
    config, _ = expand_templates(config, indexes, now)
    children: dict[str, list[BudgetConfig]] = {}
    for budget in config.budgets:
        if budget.parent:
            children.setdefault(budget.parent, []).append(budget)
    plans: dict[str, tuple[BudgetSpec, PlannedAmount]] = {}
    for budget in config.budgets:
        source = budget.provider if budget.provider is not None else ALL_PROVIDERS
        if source not in indexes:
            continue  # the provider has never delivered data: nothing true to report yet
        spec = budget_spec(config, budget)
        plan = plan_amount(
            budget, spec, indexes[source].for_accrual(budget.accrual), now, config.zone
        )
        if plan is not None:  # None: auto amount without history or initial amount, no limit
            plans[budget.name] = spec, plan
    # A parent's children count with their amounts in force now, not their configured ones.
    in_force = {name: plan.amount for name, (_, plan) in plans.items()}
    entries = []
    for budget in config.budgets:
        if budget.name not in plans:
            continue
        spec, plan = plans[budget.name]
        source = budget.provider if budget.provider is not None else ALL_PROVIDERS
        index = indexes[source].for_accrual(budget.accrual)
        names = [source] if source else list(data)
        spec = dataclasses.replace(spec, amount=plan.amount)
        spec = with_insight_dimensions(config, budget, spec, index)
        data_end = _data_end(data, names, now)
        status = evaluate_budget(spec, index, now, config.zone, data_end)
        jobs = config.jobs.dimension
        job_spend = (
            spend_by_value(
                index,
                spec,
                status.period.start,
                min(now, status.period.end),
                jobs,
                MAX_JOBS_PER_BUDGET,
            )
            if jobs
            else {}
        )
        kids = children.get(budget.name)
        entries.append(
            BudgetEntry(
                status=status,
                labels=dict(budget.labels),
                provider=budget.provider or "",
                parent=budget.parent or "",
                children_limit=children_limit(budget, kids, in_force) if kids else None,
                forecast=(
                    forecasts.forecast(spec, index, status, config.zone, data_end)
                    if forecasts is not None
                    else None
                ),
                plan=plan,
                insights=insights_of(config, budget, spec, status, index, patterns),
                anomaly_contributor=(
                    forecasts.anomaly_contributor(spec) if forecasts is not None else None
                ),
                job_spend=job_spend,
            )
        )
    return Snapshot(
        taken_at=now,
        currency=config.currency,
        provider_spend={
            name: provider_spend(index, now, config) for name, index in indexes.items() if name
        },
        series=config.series.enabled(),
        budgets=tuple(entries),
        providers=health,
        slos=evaluate_slos(config, incidents or {}, now),
        exchange_rates=rates_in_force(config.exchange_rates, now),
        forecasts_waiting=tuple(forecasts.waiting) if forecasts is not None else (),
        shared_thresholds=(
            dict(config.thresholds)
            if all(name in SEVERITY_LADDER for name in config.thresholds)
            else None
        ),
    )


def cost_indexes(
    config: Config, data: Mapping[str, CostData], cache: IndexCache
) -> dict[str, CostIndex]:
    """Each provider's cost index under its accrual, and the combined one when a budget reads
    every provider (``ALL_PROVIDERS``)."""
    at_start = {name: _counts_at_start(config, name) for name in data}
    combined = any(budget.provider is None for budget in config.budgets)
    return cache.indexes(data, at_start, combined)


def made_budgets(
    config: Config, data: Mapping[str, CostData], now: datetime
) -> dict[str, list[str]]:
    """The budgets each template makes from ``data`` at ``now``, by template name."""
    if not any(budget.is_template for budget in config.budgets):
        return {}
    return expand_templates(config, cost_indexes(config, data, IndexCache()), now)[1]


def unknown_filter_keys(config: Config, data: Mapping[str, CostData]) -> list[str]:
    """Filter keys that name no column of the budget's provider data (likely typos)."""
    # Column names are all this needs: index empty frames, once per provider.
    empty = {name: CostIndex(item.frame.head(0)) for name, item in data.items()}
    warnings = []
    for budget in config.budgets:
        names = [budget.provider] if budget.provider else list(data)
        indexes = [empty[name] for name in names if name in empty]
        keys = [("filter key", key) for key in budget.filter]
        keys += [("for_each key", budget.for_each)] if budget.for_each else []
        for what, key in keys:
            if indexes and not any(index.has_column(key) for index in indexes):
                known = sorted({d for index in indexes for d in index.dimensions})
                warnings.append(
                    f"budget {budget.name!r}: {what} {key!r} is not a column of its data; "
                    f"known: {', '.join(known)}"
                )
    jobs = config.jobs.dimension
    every = list(empty.values())
    if jobs and every and not any(index.has_column(jobs) for index in every):
        known = sorted({d for index in every for d in index.dimensions})
        warnings.append(
            f"jobs.dimension {jobs!r} is not a column of any provider's data: reservations "
            f"with a job end by their TTL only, and jobs show no cost; known: {', '.join(known)}"
        )
    return warnings


def unknown_slo_filter_keys(config: Config, incidents: Mapping[str, IncidentData]) -> list[str]:
    """SLO filter keys that no incident of the SLO's provider carries (likely typos)."""
    warnings = []
    for slo in config.slos:
        data = incidents.get(slo.provider)
        if data is None or not data.incidents:
            continue
        known = set(FILTER_FIELDS).union(*(i.attributes.keys() for i in data.incidents))
        for key in slo.filter:
            if key not in known:
                warnings.append(
                    f"slo {slo.name!r}: filter key {key!r} is not a field or attribute of the "
                    f"incidents of provider {slo.provider!r}; known: {', '.join(sorted(known))}"
                )
    return warnings


def slo_spec(slo: SloConfig, covered: timedelta | None = None) -> SloSpec:
    """The calculation's view of a configured SLO; ``covered`` is how far back its data goes."""
    # A rate learnt over more history than the provider fetched would be too low.
    history = min(slo.history, covered) if covered is not None else slo.history
    return SloSpec(
        name=slo.name,
        objective=slo.objective_ratio,
        window=slo.rolling_window,
        calendar=slo.calendar_period,
        filter=dict(slo.filter),
        excluded_categories=frozenset(slo.exclude_categories),
        regression_days=slo.regression_days,
        history=max(history, timedelta(hours=1)),
        horizons=tuple(slo.horizons),
    )


def evaluate_slos(
    config: Config, incidents: Mapping[str, IncidentData], now: datetime
) -> tuple[SloEntry, ...]:
    """Every SLO whose incident provider has delivered data at least once."""
    entries = []
    for slo in config.slos:
        if slo.provider not in incidents:
            continue  # never fetched yet: an empty history would read as a perfect record
        window = slo.rolling_window
        data = incidents[slo.provider]
        covered = now - data.covers_from if data.covers_from is not None else None
        spec = slo_spec(slo, covered)
        status = evaluate_slo(spec, data.incidents, now, config.zone)
        entries.append(
            SloEntry(
                status=status,
                labels=dict(slo.labels),
                provider=slo.provider,
                period=format_duration(window) if window is not None else str(slo.calendar),
                analytics=slo_analytics(spec, data.incidents, status, config.zone),
            )
        )
    return tuple(entries)
