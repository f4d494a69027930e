"""Budgets / Cost overview: where the money goes, which budget needs attention now."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard as db

from grafana.builders.panels import (
    anomaly_steps,
    bar_panel,
    dashboard,
    days_left_steps,
    elapsed_share,
    label_variable,
    override,
    overrun_steps,
    q,
    series_panel,
    stat_panel,
    steps,
    table_panel,
    table_queries,
    transformation,
    utilization_steps,
    with_queries,
)
from mixin.colours import GREEN, ORANGE, RED, YELLOW
from mixin.dashboards import BUDGET_DETAIL, COST_OVERVIEW
from mixin.money import ANOMALY_SCORE, THRESHOLD_SEVERITIES
from mixin.promql import thresholds_reached

TEAM = 'team=~"$team"'


def build(currency_unit: str) -> Any:
    """The dashboard, with money in the given Grafana unit (currencyUSD, currencyEUR, ...)."""
    d = dashboard(
        COST_OVERVIEW,
        "Where the money goes: spend per period, the biggest spenders, every budget's status "
        "and cost anomalies.",
        "now-7d",
    )
    d = variables(d)
    d = spend_so_far(d, currency_unit)
    d = budgets(d, currency_unit)
    d = top_spenders(d, currency_unit)
    return anomalies(d)


def variables(d: Any) -> Any:
    """Team filter, the budget to break down, and the breakdown dimensions."""
    d = d.with_variable(
        label_variable("team", "Team", "budget_info", True, "Budgets whose team label matches.")
    )
    d = d.with_variable(
        label_variable(
            "scope",
            "Breakdown of",
            'budget_info{parent=""}',
            False,
            "The budget whose spend is broken down by dimension (top-level budgets).",
        )
    )
    d = d.with_variable(
        label_variable(
            "dimension",
            "Dimension",
            "budget_spend_by_dimension",
            True,
            "Configured breakdown dimensions (service, team, account, ...).",
        )
    )
    return d


def spend_so_far(d: Any, currency_unit: str) -> Any:
    """Row of the spend of each period length and each team."""
    d = d.with_row(db.Row("Spend so far"))
    for title, period, what in (
        ("Bill today", "day", "since midnight in the configured time zone"),
        ("Bill month to date", "month", "since the 1st"),
        ("Bill year to date", "year", "since the fiscal year began"),
    ):
        d = d.with_panel(
            stat_panel(
                title,
                f"What the providers' bills say {what}, whatever the budgets: budgets may "
                "overlap (a team's and a service's budget count the same rows), so they are not "
                "added up here. Credits and refunds lower it.",
                [
                    q(
                        f'sum by (currency) (budget_exporter_provider_spend{{period="{period}"}})',
                        "{{currency}}",
                        instant=True,
                    )
                ],
                currency_unit,
                w=6,
                no_value="No cost data",
            )
        )
    d = d.with_panel(
        stat_panel(
            "Utilization by period",
            "Spend over limits of all leaf budgets of each period length.",
            [q("period:budget_utilization:ratio", "{{period}}", instant=True)],
            "percentunit",
            w=6,
            thresholds=utilization_steps(),
        )
    )
    d = d.with_panel(
        bar_panel(
            "Spend this month by team",
            "Spend to date of each team's leaf monthly budgets.",
            [
                q(
                    f'sort_desc(team_period:budget_spend:sum{{period="monthly", {TEAM}}})',
                    "{{team}}",
                    instant=True,
                )
            ],
            currency_unit,
            w=12,
            h=7,
        )
    )
    d = d.with_panel(
        bar_panel(
            "Utilization this month by team",
            "Each team's monthly spend over its monthly limits.",
            [
                q(
                    f'sort_desc(team_period:budget_utilization:ratio{{period="monthly", {TEAM}}})',
                    "{{team}}",
                    instant=True,
                )
            ],
            "percentunit",
            w=12,
            h=7,
            thresholds=utilization_steps(),
            max_val=1.2,
        )
    )
    return d


def budgets(d: Any, currency_unit: str) -> Any:
    """Row of every budget's status."""
    d = d.with_row(db.Row("Budgets"))
    d = d.with_panel(budgets_table(currency_unit))
    d = d.with_panel(
        bar_panel(
            "Utilization",
            "Spend divided by limit for every budget; 100% means the budget is used up.",
            [q(f"sort_desc(budget_utilization_ratio{{{TEAM}}})", "{{budget}}", instant=True)],
            "percentunit",
            w=8,
            h=10,
            thresholds=utilization_steps(),
            max_val=1.2,
        )
    )

    d = d.with_panel(
        series_panel(
            "Spend this period by budget",
            "Spend to date of each budget over time; it drops back when a period resets.",
            [q(f"budget_spend{{{TEAM}}}", "{{budget}}")],
            currency_unit,
            w=24,
        )
    )
    return d


def top_spenders(d: Any, currency_unit: str) -> Any:
    """Row of one panel per breakdown dimension of the chosen budget."""
    d = d.with_row(db.Row("Top spenders"))
    top = (
        bar_panel(
            "Top spenders in $scope by $dimension",
            "Spend so far this period of the chosen budget by value of the dimension; "
            '"other" sums the values past the configured top.',
            [
                q(
                    'sort_desc(budget_spend_by_dimension{budget="$scope", dimension="$dimension"})',
                    "{{value}}",
                    instant=True,
                )
            ],
            currency_unit,
            w=8,
            h=8,
        )
        .repeat("dimension")
        .repeat_direction("h")
        .max_per_row(3)
    )
    return d.with_panel(top)


def anomalies(d: Any) -> Any:
    """Row of unusual days and the forecast's overrun odds."""
    d = d.with_row(db.Row("Anomalies"))
    d = d.with_panel(
        series_panel(
            "Cost anomaly score",
            "Spend of the newest complete day against the median of the same weekday in recent "
            f"weeks, in robust standard deviations; above {ANOMALY_SCORE} is unusual spend worth "
            "a look.",
            [q(f"budget_cost_anomaly_score{{{TEAM}}}", "{{budget}}")],
            "none",
            w=16,
            thresholds=anomaly_steps(),
            threshold_lines=True,
        )
    )
    d = d.with_panel(
        bar_panel(
            "Overrun probability",
            "Probability that the period total exceeds the limit, from the forecast.",
            [
                q(
                    f"sort_desc(budget_forecast_overrun_probability{{{TEAM}}})",
                    "{{budget}}",
                    instant=True,
                )
            ],
            "percentunit",
            w=8,
            thresholds=overrun_steps(),
            max_val=1,
        )
    )
    return d


def budgets_table(currency_unit: str) -> Any:
    """Every budget with its status, one row each, linking to its Budget detail."""
    columns = [
        ("A", f"sum by (budget) (budget_spend{{{TEAM}}})", "Spend"),
        ("B", f"sum by (budget) (budget_limit{{{TEAM}}})", "Limit"),
        ("C", f"sum by (budget) (budget_remaining{{{TEAM}}})", "Remaining"),
        ("D", f"max by (budget) (budget_utilization_ratio{{{TEAM}}})", "Utilization"),
        ("E", f"max by (budget) ({elapsed_share(TEAM)})", "Period elapsed"),
        ("F", f'max by (budget) (budget_burn_rate{{{TEAM}, window="period"}})', "Burn rate"),
        ("G", f"sum by (budget) ({thresholds_reached(TEAM)})", "Thresholds reached"),
        (
            "H",
            f"max by (budget) (budget:budget_forecast_utilization:ratio{{{TEAM}}})",
            "Forecast / limit",
        ),
        ("I", f"min by (budget) (budget:budget_exhaustion:days{{{TEAM}}})", "Days to exhaustion"),
    ]
    panel = (
        table_panel(
            "Budgets",
            "Every budget with its status: utilization coloured at "
            + "/".join(f"{t.default_ratio * 100:g}" for t in THRESHOLD_SEVERITIES)
            + "%, burn rate (1 = on pace to use exactly the limit) and how many of its alert "
            "thresholds are reached. Click a budget for its detail.",
            currency_unit,
            w=16,
            h=10,
        )
        .with_transformation(transformation("merge"))
        .with_transformation(
            transformation(
                "organize",
                excludeByName={"Time": True},
                renameByName={f"Value #{ref}": name for ref, _, name in columns},
                indexByName={"budget": 0}
                | {f"Value #{ref}": i + 1 for i, (ref, _, _) in enumerate(columns)},
            )
        )
        .override_by_name(
            "budget",
            [
                override(
                    "links",
                    [
                        {
                            "title": "Budget detail",
                            "url": f"/d/{BUDGET_DETAIL.uid}?var-budget=${{__value.raw}}"
                            "&${datasource:queryparam}&${__url_time_range}",
                        }
                    ],
                )
            ],
        )
    )
    for name, unit, cell, th in (
        ("Utilization", "percentunit", "color-background", utilization_steps()),
        ("Period elapsed", "percentunit", "auto", None),
        ("Forecast / limit", "percentunit", "color-text", utilization_steps()),
        ("Days to exhaustion", "d", "color-text", days_left_steps()),
        ("Burn rate", "none", "color-text", steps((None, GREEN), (1.0, ORANGE), (1.5, RED))),
        (
            "Thresholds reached",
            "none",
            "color-background",
            steps((None, GREEN), (1, YELLOW), (2, ORANGE), (3, RED)),
        ),
    ):
        props = [override("unit", unit), override("custom.cellOptions", {"type": cell})]
        if th is not None:
            props.append(override("thresholds", th.build()))
        panel = panel.override_by_name(name, props)
    panel = panel.override_by_name(
        "Remaining",
        [
            override("custom.cellOptions", {"type": "color-text"}),
            override("thresholds", steps((None, RED), (0, GREEN)).build()),
        ],
    )
    return with_queries(panel, table_queries((ref, expr) for ref, expr, _ in columns))
