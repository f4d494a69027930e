"""Budget hierarchy over the configured budgets: children's limits against their parent's."""

from __future__ import annotations

from collections.abc import Mapping

from .schema import BudgetConfig, Config


def allocation_warnings(config: Config) -> list[str]:
    """Parents whose children's limits, scaled to the parent's period, exceed the parent's."""
    # Children grouped once: comparing every budget with every other took 21 s at 10,000.
    by_parent: dict[str, list[BudgetConfig]] = {}
    for budget in config.budgets:
        if budget.parent is not None:
            by_parent.setdefault(budget.parent, []).append(budget)
    warnings = []
    for parent in config.budgets:
        children = by_parent.get(parent.name)
        if not children:
            continue
        allocated = children_limit(parent, children)
        own = parent.fixed_amount
        if own is not None and allocated > own * (1 + 1e-9):
            warnings.append(
                f"budget {parent.name!r} is over-allocated: its children's limits add up to "
                f"{allocated:,.2f} {config.currency} per {parent.period.value} period against "
                f"its own {own:,.2f}"
            )
    return warnings


def children_limit(
    parent: BudgetConfig,
    children: list[BudgetConfig],
    amounts: Mapping[str, float] | None = None,
) -> float:
    """Sum of children's amounts, each scaled to the parent's period length.

    ``amounts`` holds the amounts in force (planned, auto, rollover) by child name; a child not
    in it counts its configured amount. An auto child without an initial amount adds 0.
    """
    in_force = amounts or {}
    return sum(
        in_force.get(child.name, child.fixed_amount or 0.0)
        * parent.nominal_days
        / child.nominal_days
        for child in children
    )
