"""Budget templates: one budget per value of a dimension, made from the data of the period.

``name: team-{value}`` with ``for_each: tags.team`` makes ``team-web``, ``team-data``... for the
values that spend in the template's period (its own filter applied), the largest
``max_budgets`` of them, the others together in ``team-other`` (unless ``other: false``). A
value keeps its budget until the period ends, since its spend stays in the period. Each budget
made gets ``{value}`` replaced in its name and labels, its value as a filter, and its amount
from ``amounts`` or the template's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from ..config.schema import TEMPLATE_VALUE, BudgetConfig, Config
from ..model.periods import period_containing
from ..money.budgets import NONE_VALUE, OTHER, BudgetSpec, CostIndex, budget_mask

ALL_PROVIDERS = ""


def slug(value: str) -> str:
    """A dimension value as it may stand in a budget name."""
    text = re.sub(r"[^A-Za-z0-9_.\-]+", "_", value).strip("_")
    return text or NONE_VALUE


def expand_templates(
    config: Config, indexes: Mapping[str, CostIndex], now: datetime
) -> tuple[Config, dict[str, list[str]]]:
    """The config with each template replaced by the budgets it makes, and their names."""
    if not any(budget.is_template for budget in config.budgets):
        return config, {}
    budgets: list[BudgetConfig] = []
    made: dict[str, list[str]] = {}
    taken = {budget.name for budget in config.budgets if not budget.is_template}
    for budget in config.budgets:
        if not budget.is_template:
            budgets.append(budget)
            continue
        index = indexes.get(budget.provider if budget.provider is not None else ALL_PROVIDERS)
        names = made.setdefault(budget.name, [])
        if index is None:
            continue
        for instance in _instances(config, budget, index, now):
            if instance.name in taken:
                continue  # a budget of that name is configured: it wins
            taken.add(instance.name)
            names.append(instance.name)
            budgets.append(instance)
    return config.model_copy(update={"budgets": tuple(budgets)}), made


def _instances(
    config: Config, template: BudgetConfig, index: CostIndex, now: datetime
) -> list[BudgetConfig]:
    assert template.for_each is not None
    period = period_containing(template.period, now, config.zone, config.calendar_for(template))
    scope = BudgetSpec(
        name=template.name,
        amount=1.0,
        period=template.period,
        filter=dict(template.filter),
        excluded_categories=template.charges.excluded_categories(),
    )
    mask = budget_mask(index, scope)
    share = index.share_in(period.start, min(now, period.end))
    totals = index.sum_by(template.for_each, mask & (share > 0), share)
    ranked = sorted(
        ((value, amount) for value, amount in totals if value not in ("", NONE_VALUE)),
        key=lambda item: (-item[1], item[0]),
    )
    kept, rest = ranked[: template.max_budgets], ranked[template.max_budgets :]
    instances = [_instance(template, value, (value,)) for value, _ in kept]
    if rest and template.other:
        instances.append(_instance(template, OTHER, tuple(value for value, _ in rest)))
    return instances


def _instance(template: BudgetConfig, value: str, values: tuple[str, ...]) -> BudgetConfig:
    assert template.for_each is not None
    amount = template.amounts.get(value, template.amount)
    return template.model_copy(
        update={
            "name": template.name.replace(TEMPLATE_VALUE, slug(value)),
            "filter": {**template.filter, template.for_each: values},
            "labels": {k: v.replace(TEMPLATE_VALUE, value) for k, v in template.labels.items()},
            "amount": amount,
            "for_each": None,
            "amounts": {},
        }
    )
