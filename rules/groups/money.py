"""Money budgets: the roll-ups dashboards and alerts share, and the spend alerts."""

from __future__ import annotations

from mixin.money import ANOMALY_SCORE, FORECAST_OVERRUN_PROBABILITY, MONEY_BURN_WINDOWS
from rules.annotations import (
    MONEY_FACTS,
    MONEY_SENTENCE,
    PCT,
    TIMES,
    B,
    Group,
    alert,
    first_value,
)

LEAF = "unless on(budget) budget_children_limit"

# The breakdown value that drove an unusual day, with its spend against its usual level.
CONTRIBUTOR = (
    "{{ with printf `budget_cost_anomaly_contributor_spend{budget=%q}` $labels.budget | query }}"
    "{{ with . | first }}Driven by {{ .Labels.dimension }}={{ .Labels.value }}: "
    '{{ .Value | printf "%.2f" }} {{ .Labels.currency }} on the day{{ end }}'
    "{{ with printf `budget_cost_anomaly_contributor_usual_spend{budget=%q}` $labels.budget"
    " | query }}"
    '{{ with . | first }} against a usual {{ .Value | printf "%.2f" }}{{ end }}{{ end }}.'
    "{{ else }}No single breakdown value stands out.{{ end }}"
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
    "Money budgets. Thresholds live in the exporter config (budget_alert_threshold_ratio).",
    [
        (
            "One alert per configured threshold: severity comes from the threshold's series.",
            alert(
                "BudgetThresholdReached",
                "budget_utilization_ratio\n"
                "  >= ignoring(severity) group_right()\n"
                "budget_alert_threshold_ratio",
                "15m",
                {"kind": "money"},
                "A budget's spend reached one of its thresholds.",
                "Budget {{ $labels.budget }} reached its {{ $labels.severity }} threshold of "
                + first_value(
                    "budget_alert_threshold_ratio{budget=%q,severity=%q}",
                    B + " $labels.severity",
                    PCT,
                )
                + " of its limit. "
                + MONEY_SENTENCE,
                MONEY_FACTS,
                {
                    "threshold": first_value(
                        "budget_alert_threshold_ratio{budget=%q,severity=%q}",
                        B + " $labels.severity",
                        PCT,
                    )
                },
            ),
        ),
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
                "Budget {{ $labels.budget }} is burning at "
                '{{ printf "%.2f" $value }}x the pace that uses its limit exactly over '
                f"{w.short} (factor {w.short_factor}) and "
                + first_value(f'budget_burn_rate{{budget=%q,window="{w.long}"}}', B, TIMES)
                + f" over {w.long} (factor {w.long_factor}). "
                + MONEY_SENTENCE,
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
                "Budget {{ $labels.budget }} will overrun its limit with probability "
                "{{ $value | humanizePercentage }}. " + MONEY_SENTENCE,
                MONEY_FACTS,
            ),
        ),
        (
            "Spend at the projected pace reaches the limit before the period ends (and has not "
            "reached it yet: that is BudgetThresholdReached's job).",
            alert(
                "BudgetExhaustionProjected",
                "(\n"
                "  min without(method) (budget_projected_exhaustion_timestamp_seconds)\n"
                "    < budget_period_end_timestamp_seconds\n"
                ")\n"
                "and\n"
                "(min without(method) (budget_projected_exhaustion_timestamp_seconds) > time())",
                "1h",
                {"kind": "money", "severity": "warning"},
                "A budget is projected to run out before its period ends.",
                "Budget {{ $labels.budget }} runs out on {{ $value | humanizeTimestamp }}, "
                "before its period ends on "
                + first_value(
                    "budget_period_end_timestamp_seconds{budget=%q}", B, "humanizeTimestamp"
                )
                + ". "
                + MONEY_SENTENCE,
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
                '{{ printf "%.2f" $value }} {{ $labels.currency }}. It counts in spend and '
                "thresholds as a known step, not in the pace. " + MONEY_SENTENCE,
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
                '{{ printf "%.1f" $value }}. ' + CONTRIBUTOR + " " + MONEY_SENTENCE,
                MONEY_FACTS,
                {"contributor": CONTRIBUTOR},
            ),
        ),
    ],
)
