"""The over-allocation warnings of ``check`` read the budgets a fixed number of times, not once
per budget: 10,000 budgets took 21 s when every budget was compared with every other."""

from __future__ import annotations

from collections.abc import Iterator

from attacks import attack
from budget_exporter.config.hierarchy import allocation_warnings, children_limit
from budget_exporter.config.loader import parse_config
from budget_exporter.config.schema import BudgetConfig, Config


class CountedBudgets(tuple[BudgetConfig, ...]):
    """The budgets of a config, counting how often they are walked."""

    walks = 0

    def __iter__(self) -> Iterator[BudgetConfig]:
        type(self).walks += 1
        return super().__iter__()


def hierarchy(count: int) -> Config:
    lines = ["providers:", "  costs: {type: csv, paths: [costs.csv]}", "budgets:"]
    for i in range(count):
        # Every tenth budget is a parent; its nine children are over-allocated in every
        # fourth family.
        parent = "" if i % 10 == 0 else f", parent: p{i - i % 10}"
        amount = (800 if (i // 10) % 4 == 0 else 100_000) if i % 10 == 0 else 100
        name = f"p{i}" if i % 10 == 0 else f"c{i}"
        lines.append(f"  - {{name: {name}, amount: {amount}, period: monthly{parent}}}")
    return parse_config("\n".join(lines) + "\n")


def brute_force(config: Config) -> list[str]:
    """Over-allocated parents, found the slow way, to compare with."""
    over = []
    for parent in config.budgets:
        children = [b for b in config.budgets if b.parent == parent.name]
        own = parent.fixed_amount
        if children and own is not None and children_limit(parent, children) > own * (1 + 1e-9):
            over.append(parent.name)
    return over


@attack(
    "scale",
    "check on 10,000 budgets",
    "the budgets walked a fixed number of times, not once per pair",
    found=15,
)
def test_allocation_warnings_walk_the_budgets_a_fixed_number_of_times() -> None:
    config = hierarchy(2000)
    expected = brute_force(config)
    assert len(expected) == 50
    counted = config.model_copy(update={"budgets": CountedBudgets(config.budgets)})
    CountedBudgets.walks = 0
    warnings = allocation_warnings(counted)
    assert CountedBudgets.walks <= 2
    assert [warning.split("'")[1] for warning in warnings] == expected
