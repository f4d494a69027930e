"""Money budgets: the roll-ups dashboards and alerts share, and the spend alerts."""

from __future__ import annotations

from mixin.money import (
    ANOMALY_SCORE,
    FORECAST_OVERRUN_PROBABILITY,
    MONEY_BURN_WINDOWS,
    OVER_ALLOCATION_RATIO,
)
from mixin.promql import default_threshold_against, own_thresholds_against
from mixin.severities import NAMES
from rules.annotations import MONEY_FACTS, Group, alert, fact, money, named, percent, with_facts

LEAF = "unless on(budget) budget_children_limit"

# The breakdown value that drove an unusual day, with its spend against its usual level.
CONTRIBUTOR = with_facts(
    "$labels.budget",
    {
        "day": fact("budget_cost_anomaly_contributor_spend"),
        "usual": fact("budget_cost_anomaly_contributor_usual_spend"),
    },
    "{{ if $has_day }}{{ range $rows }}{{ if "
    + named("budget_cost_anomaly_contributor_spend")
    + " }}Driven by {{ .Labels.dimension }}={{ .Labels.value }}{{ end }}{{ end }}: "
    + money("$day", "$currency")
    + " on the day{{ if $has_usual }} against a usual "
    + money("$usual", "$currency")
    + "{{ end }}.{{ else }}No single breakdown value stands out.{{ end }}",
)

THRESHOLD_SUMMARY = "A budget's spend reached one of its thresholds."
THRESHOLD_DESCRIPTION = (
    "Budget {{ $labels.budget }} reached its {{ $labels.severity }} threshold, "
    + percent("$value")
    + " of its limit."
)

money_recording: Group = (
    "budget.recording",
    "Roll-ups that dashboards and alerts share. Team and overall totals count leaf budgets only "
    "(budgets without children), so a parent and its children are not added twice.",
    [
        (
            "Spend of each leaf budget, with its period and team from budget_info.",
            {
                "record": "budget:budget_spend:leaf",
                "expr": "(budget_spend " + LEAF + ")\n"
                "* on(budget) group_left(period) max by (budget, period) (budget_info)\n",
            },
        ),
        (
            "Limit of each leaf budget, with its period.",
            {
                "record": "budget:budget_limit:leaf",
                "expr": "(budget_limit " + LEAF + ")\n"
                "* on(budget) group_left(period) max by (budget, period) (budget_info)\n",
            },
        ),
        (
            'Spend by team and period (budgets without a team label add up under team="").',
            {
                "record": "team_period:budget_spend:sum",
                "expr": "sum by (team, period, currency) (budget:budget_spend:leaf)\n",
            },
        ),
        (
            "Limit by team and period.",
            {
                "record": "team_period:budget_limit:sum",
                "expr": "sum by (team, period, currency) (budget:budget_limit:leaf)\n",
            },
        ),
        (
            "Utilization by team and period: the team's spend over the team's limits.",
            {
                "record": "team_period:budget_utilization:ratio",
                "expr": "team_period:budget_spend:sum / team_period:budget_limit:sum\n",
            },
        ),
        (
            "Overall spend by period, over leaf budgets.",
            {
                "record": "period:budget_spend:sum",
                "expr": "sum by (period, currency) (budget:budget_spend:leaf)\n",
            },
        ),
        (
            "Overall limit by period, over leaf budgets.",
            {
                "record": "period:budget_limit:sum",
                "expr": "sum by (period, currency) (budget:budget_limit:leaf)\n",
            },
        ),
        (
            "Overall utilization by period.",
            {
                "record": "period:budget_utilization:ratio",
                "expr": "period:budget_spend:sum / period:budget_limit:sum\n",
            },
        ),
        (
            "Children's spend under each parent budget (children of the parent's period).",
            {
                "record": "parent_period:budget_children_spend:sum",
                "expr": "sum by (parent, period, currency) (\n"
                "  budget_spend * on(budget) group_left(parent, period)\n"
                '    max by (budget, parent, period) (budget_info{parent!=""})\n'
                ")\n",
            },
        ),
        (
            "Children's spend over the parent's limit (same period); the rest is unallocated "
            "or spent outside any child.",
            {
                "record": "parent_period:budget_children_utilization:ratio",
                "expr": 'label_replace(parent_period:budget_children_spend:sum, "budget", "$1", '
                '"parent", "(.+)")\n'
                "/ on(budget, period, currency) group_left()\n"
                "(budget_limit * on(budget) group_left(period) "
                "max by (budget, period) (budget_info))\n",
            },
        ),
        (
            "Days until the earliest projected exhaustion (pace or forecast); negative when the "
            "limit was already reached, absent when the limit holds this period.",
            {
                "record": "budget:budget_exhaustion:days",
                "expr": "(min without(method) (budget_projected_exhaustion_timestamp_seconds) "
                "- time()) / 86400\n",
            },
        ),
        (
            "Forecast period total (mean) over the limit: above 1 the budget is expected to "
            "overrun.",
            {
                "record": "budget:budget_forecast_utilization:ratio",
                "expr": 'max without(method, bound) (budget_forecast_spend{bound="mean"})\n'
                "/ ignoring(currency) budget_limit\n",
            },
        ),
    ],
)

money_alerts: Group = (
    "budget.alerts",
    "Money budgets. Thresholds live in the exporter config (budget_alert_threshold_ratio), named "
    "after the rungs of mixin/severities.py. Descriptions say why an alert fired; the facts "
    "annotation says where the budget stands, each figure once.",
    [
        (
            "One alert per threshold reached, for a budget with thresholds of its own: "
            "severity comes from the threshold's series, and the value is the threshold in "
            "percent.",
            alert(
                "BudgetThresholdReached",
                own_thresholds_against("", "<=", "budget_utilization_ratio", "100 * "),
                "15m",
                {"kind": "money"},
                THRESHOLD_SUMMARY,
                THRESHOLD_DESCRIPTION,
                MONEY_FACTS,
            ),
        ),
    ]
    + [
        (
            f"The same for the {name} threshold of every budget on the config's defaults, "
            "which the exporter sends once (budget_default_alert_threshold_ratio).",
            alert(
                "BudgetThresholdReached",
                default_threshold_against(name, "<=", "budget_utilization_ratio", "100 * "),
                "15m",
                {"kind": "money"},
                THRESHOLD_SUMMARY,
                THRESHOLD_DESCRIPTION,
                MONEY_FACTS,
            ),
        )
        for name in NAMES
    ]
    + [
        (
            w.comment,
            alert(
                "BudgetBurnRateHigh",
                f'max without(window) (budget_burn_rate{{window="{w.short}"}}) > {w.short_factor}\n'
                "and\n"
                f'max without(window) (budget_burn_rate{{window="{w.long}"}}) > {w.long_factor}',
                w.for_,
                {"kind": "money", "severity": w.severity, "long": w.long, "short": w.short},
                "A budget is spending much faster than its limit allows.",
                "Budget {{ $labels.budget }} burns above "
                f"{w.short_factor:g}x over {w.short} and above {w.long_factor:g}x over "
                f"{w.long}: 1x spends exactly the limit by period end.",
                MONEY_FACTS,
            ),
        )
        for w in MONEY_BURN_WINDOWS
    ]
    + [
        (
            f"The forecast puts the period total above the limit with at least "
            f"{FORECAST_OVERRUN_PROBABILITY:.0%} probability.",
            alert(
                "BudgetForecastOverrun",
                "max without(method) (budget_forecast_overrun_probability) > "
                f"{FORECAST_OVERRUN_PROBABILITY}",
                "1h",
                {"kind": "money", "severity": "warning"},
                "A budget is forecast to overrun its limit this period.",
                "Budget {{ $labels.budget }} is forecast to end its period over its limit "
                f"(odds above {FORECAST_OVERRUN_PROBABILITY:.0%}).",
                MONEY_FACTS,
            ),
        ),
        (
            "Spend reaches the limit before the period ends (and has not reached it yet: that "
            "is BudgetThresholdReached's job). The forecast decides where one exists; the pace "
            "projection only for a budget without a forecast, so the two never disagree in "
            "one alert. The method label says which fired.",
            alert(
                "BudgetExhaustionProjected",
                "(\n"
                '  budget_projected_exhaustion_timestamp_seconds{method="forecast"}\n'
                "  or\n"
                '  (budget_projected_exhaustion_timestamp_seconds{method="pace"}\n'
                "    unless on(budget, job, instance) budget_forecast_spend)\n"
                ")\n"
                "  < on(budget, job, instance) group_left() budget_period_end_timestamp_seconds\n"
                "and\n"
                "budget_projected_exhaustion_timestamp_seconds > time()",
                "1h",
                {"kind": "money", "severity": "warning"},
                "A budget is projected to run out before its period ends.",
                "Budget {{ $labels.budget }} runs out before its period ends "
                '{{ if eq $labels.method "forecast" }}by the forecast, its expected path to '
                "period end{{ else }}at the pace so far; it has no forecast yet{{ end }}.",
                MONEY_FACTS,
            ),
        ),
        (
            "A parent's children are allotted more than its limit: their limits can all hold "
            "while the parent's does not. A planning matter, not spend: a notice.",
            alert(
                "BudgetOverAllocated",
                f"100 * budget_children_allocation_ratio > {OVER_ALLOCATION_RATIO * 100:g}",
                "1h",
                {"kind": "money", "severity": "notice"},
                "A budget's children are allotted more than its limit.",
                with_facts(
                    "$labels.budget",
                    {
                        "children": fact("budget_children_limit"),
                        "limit": fact("budget_limit"),
                    },
                    "Budget {{ $labels.budget }} gives its children "
                    + money("$children", "$currency")
                    + " of limits, "
                    + percent("$value")
                    + " of its own "
                    + money("$limit", "$currency")
                    + ".",
                ),
                MONEY_FACTS,
            ),
        ),
        (
            "A purchase of a service and SKU not bought in the months before: worth knowing "
            "about once (Alertmanager repeats it only after a month). A renewal every month is "
            "not new, and no purchase drives burn rates, projections or anomalies.",
            alert(
                "BudgetNewPurchase",
                "budget_new_purchase_spend > 0",
                "0m",
                {"kind": "money", "severity": "notice"},
                "A budget has a purchase it has not had in the months before.",
                "Budget {{ $labels.budget }} has a new purchase this period: "
                "{{ $labels.service }}{{ if $labels.sku }} ({{ $labels.sku }}){{ end }} for "
                + money("$value", "$labels.currency")
                + ". It counts in spend and thresholds as a known step, not in the pace.",
                MONEY_FACTS,
            ),
        ),
        (
            f"The newest day's spend is far from what that weekday usually costs (score above "
            f"{ANOMALY_SCORE} robust standard deviations). On the budget total only, so one spike "
            "is one alert; budget_cost_anomaly_score_by_dimension shows which value drove it.",
            alert(
                "BudgetCostAnomaly",
                f"max without(method) (budget_cost_anomaly_score) > {ANOMALY_SCORE}",
                "30m",
                {"kind": "money", "severity": "notice"},
                "A budget's daily cost is unusual for the day of the week.",
                "Budget {{ $labels.budget }} has a cost anomaly score of "
                '{{ printf "%.1f" $value }} (above ' + str(ANOMALY_SCORE) + "). " + CONTRIBUTOR,
                MONEY_FACTS,
            ),
        ),
    ],
)
