"""Planning insights: spend ahead of plan and standing recommendations."""

from __future__ import annotations

import textwrap

from mixin.promql import expected_spend
from rules.annotations import MONEY_FACTS, Group, alert, fact, money, with_facts

insight_alerts: Group = (
    "budget.insights",
    "Planning insights: spend ahead of the plan for the elapsed share of the period, and "
    "recommendations drawn from the cost breakdown. Thresholds live in the exporter config "
    "(insights).",
    [
        (
            "Spend is past the variance threshold `over` for the elapsed share of the period; "
            "held 6h so a single lumpy day does not page. The value is the spend expected by "
            "now, which the exporter sends only for budgets with purchases or fees counted at "
            "once: for the others it is the limit spread evenly.",
            alert(
                "BudgetSpendAheadOfPlan",
                "max without(currency) (\n" + textwrap.indent(expected_spend(), "  ") + "\n)\n"
                "and on(budget, job, instance)\n"
                'budget_variance_category{category="over"} == 1',
                "6h",
                {"kind": "money", "severity": "warning"},
                "A budget's spend is well ahead of plan for this point of the period.",
                with_facts(
                    "$labels.budget",
                    {"spent": fact("budget_spend")},
                    "Budget {{ $labels.budget }} is ahead of plan: its spend is well past the "
                    + money("$value", "$currency")
                    + " expected by now if its limit were spent evenly.",
                ),
                MONEY_FACTS,
            ),
        ),
        (
            "A recommendation has stood for a day: pace above the ideal daily rate by the "
            "configured factor, or one resource or owner above its configured share.",
            alert(
                "BudgetRecommendation",
                "budget_recommendation",
                "1d",
                {"kind": "money", "severity": "notice"},
                "A budget has a standing recommendation.",
                "Budget {{ $labels.budget }}: {{ $labels.recommendation }}"
                '{{ if $labels.dimension }} for {{ $labels.dimension }}="{{ $labels.value }}"'
                '{{ end }} (measured {{ printf "%.2f" $value }}).',
                MONEY_FACTS,
            ),
        ),
    ],
)
