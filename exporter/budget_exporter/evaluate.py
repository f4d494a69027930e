"""Cached provider data + config + ``now`` -> one immutable Snapshot. Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import pandas as pd

from .budgets import BudgetSpec, CostIndex, evaluate_budget
from .config import BudgetConfig, Config, children_limit
from .errors import ProviderError
from .providers.base import CostData, concat_frames
from .snapshot import BudgetEntry, ProviderHealth, Snapshot

ALL_PROVIDERS = ""


def budget_spec(config: Config, budget: BudgetConfig) -> BudgetSpec:
    """The calculation's view of a configured budget."""
    breakdown = config.breakdown_for(budget)
    return BudgetSpec(
        name=budget.name,
        amount=budget.amount,
        period=budget.period,
        filter=dict(budget.filter),
        excluded_categories=budget.charges.excluded_categories(),
        thresholds=config.thresholds_for(budget),
        breakdown_dimensions=tuple(breakdown.dimensions),
        breakdown_top=breakdown.top,
    )


def to_reporting_currency(
    frame: pd.DataFrame, currency: str, rates: Mapping[str, float], provider: str
) -> pd.DataFrame:
    """Convert every row to ``currency`` with ``rates``; a currency without a rate is an error.

    Summing amounts of different currencies would be silently wrong, so it is never done.
    """
    codes = set(frame["currency"].astype("object").unique()) - {currency}
    if not codes:
        return frame
    missing = sorted(code for code in codes if code not in rates)
    if missing:
        raise ProviderError(
            f"provider {provider}: rows in {', '.join(missing)} but no exchange_rates entry "
            f"converts them to {currency}"
        )
    converted = frame.copy()
    factors = converted["currency"].astype("object").map(lambda c: rates.get(c, 1.0))
    converted["cost"] = converted["cost"] * factors.astype("float64")
    converted["currency"] = pd.Categorical([currency] * len(converted))
    return converted


def _data_end(data: Mapping[str, CostData], names: list[str], now: datetime) -> datetime | None:
    ends = [data[name].data_end for name in names if name in data and data[name].data_end]
    return min(min(ends), now) if ends else None  # type: ignore[type-var]


def evaluate(
    config: Config,
    data: Mapping[str, CostData],
    health: tuple[ProviderHealth, ...],
    now: datetime,
) -> Snapshot:
    """Compute every budget from the latest good data of each provider."""
    indexes: dict[str, CostIndex] = {name: CostIndex(item.frame) for name, item in data.items()}
    if any(budget.provider is None for budget in config.budgets):
        indexes[ALL_PROVIDERS] = CostIndex(concat_frames([item.frame for item in data.values()]))
    children: dict[str, list[BudgetConfig]] = {}
    for budget in config.budgets:
        if budget.parent:
            children.setdefault(budget.parent, []).append(budget)
    entries = []
    for budget in config.budgets:
        source = budget.provider if budget.provider is not None else ALL_PROVIDERS
        if source not in indexes:
            continue  # the provider has never delivered data: nothing true to report yet
        names = [source] if source else list(data)
        status = evaluate_budget(
            budget_spec(config, budget),
            indexes[source],
            now,
            config.zone,
            _data_end(data, names, now),
        )
        kids = children.get(budget.name)
        entries.append(
            BudgetEntry(
                status=status,
                labels=dict(budget.labels),
                provider=budget.provider or "",
                parent=budget.parent or "",
                children_limit=children_limit(budget, kids) if kids else None,
            )
        )
    return Snapshot(
        taken_at=now,
        currency=config.currency,
        budgets=tuple(entries),
        providers=health,
    )


def unknown_filter_keys(config: Config, data: Mapping[str, CostData]) -> list[str]:
    """Filter keys that name no column of the budget's provider data (likely typos)."""
    warnings = []
    for budget in config.budgets:
        names = [budget.provider] if budget.provider else list(data)
        indexes = [CostIndex(data[name].frame) for name in names if name in data]
        for key in budget.filter:
            if indexes and not any(index.has_column(key) for index in indexes):
                known = sorted({d for index in indexes for d in index.dimensions})
                warnings.append(
                    f"budget {budget.name!r}: filter key {key!r} is not a column of its data; "
                    f"known: {', '.join(known)}"
                )
    return warnings
