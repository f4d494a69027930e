"""Builds the provisioned Grafana dashboards in grafana/dashboards/ from code.

The dashboards are written with grafana-foundation-sdk (Grafana's published dashboard model, the
way mixins use grafonnet). After changing a panel, regenerate and commit the JSON::

    .venv/bin/python grafana/generate.py            # writes grafana/dashboards/*.json
    .venv/bin/python grafana/generate.py --check    # exit 1 when the committed JSON is stale

tests/test_dashboards.py regenerates the dashboards and fails when they differ from the committed
files, then runs every query against a real Prometheus that scraped the real exporter.

Conventions: fixed uids, one ``datasource`` variable that every panel and variable uses, the
``team`` label for filtering (budgets and SLOs copy their ``labels`` onto every series), money in
the reporting currency (``--currency-unit``, a Grafana unit id such as ``currencyEUR``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import bargauge, gauge, stat, table, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus as pq
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

OUT = Path(__file__).resolve().parent / "dashboards"

#: uid of the datasource in grafana/provisioning/datasources/prometheus.yml.
PROVISIONED_DATASOURCE_UID = "budget-prometheus"
DS = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
TAG = "budget-exporter"

UIDS = {
    "overview": "budget-cost-overview",
    "detail": "budget-detail",
    "slo": "budget-error-budgets",
    "health": "budget-exporter-health",
}

# Multiwindow burn-rate alert factors (Google SRE workbook), drawn as threshold lines.
SLO_ALERT_FACTORS = [(1.0, "yellow"), (3.0, "orange"), (6.0, "red"), (14.4, "purple")]

GREEN, YELLOW, ORANGE, RED, BLUE = "green", "yellow", "orange", "red", "blue"


# --------------------------------------------------------------------------- building blocks


def q(expr: str, legend: str = "", instant: bool = False, table_format: bool = False) -> Any:
    """A Prometheus query against the dashboard's datasource variable."""
    query = pq.Dataquery().expr(expr).datasource(DS)
    if legend:
        query = query.legend_format(legend)
    if table_format:
        query = query.format(pm.PromQueryFormat.TABLE)
    return query.instant() if instant else query.range()


def steps(*pairs: tuple[float | None, str]) -> Any:
    """Absolute thresholds: the first pair's value is None (the base colour)."""
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=value, color=color) for value, color in pairs])
    )


def with_queries(panel: Any, queries: Iterable[Any]) -> Any:
    for query in queries:
        panel = panel.with_target(query)
    return panel.datasource(DS)


def reduce_last(fields: str = "") -> Any:
    return cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False).fields(fields)


def stat_panel(
    title: str,
    description: str,
    queries: Sequence[Any],
    unit: str,
    w: int = 6,
    h: int = 4,
    thresholds: Any = None,
    no_value: str = "",
    decimals: float | None = None,
) -> Any:
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .span(w)
        .height(h)
        .reduce_options(reduce_last())
        .color_mode(cm.BigValueColorMode.VALUE)
        .graph_mode(cm.BigValueGraphMode.NONE)
        .text_mode(cm.BigValueTextMode.VALUE_AND_NAME)
        .thresholds(thresholds or steps((None, BLUE)))
    )
    if no_value:
        panel = panel.no_value(no_value)
    if decimals is not None:
        panel = panel.decimals(decimals)
    return with_queries(panel, queries)


def series_panel(
    title: str,
    description: str,
    queries: Sequence[Any],
    unit: str,
    w: int = 12,
    h: int = 8,
    thresholds: Any = None,
    threshold_lines: bool = False,
    min_val: float | None = None,
) -> Any:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .span(w)
        .height(h)
        .line_width(2)
        .fill_opacity(0)
        .legend(
            cb.VizLegendOptions()
            .display_mode(cm.LegendDisplayMode.LIST)
            .placement(cm.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
    )
    if thresholds is not None:
        panel = panel.thresholds(thresholds)
    if threshold_lines:
        panel = panel.thresholds_style(
            cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED)
        )
    if min_val is not None:
        panel = panel.min(min_val)
    return with_queries(panel, queries)


def bar_panel(
    title: str,
    description: str,
    queries: Sequence[Any],
    unit: str,
    w: int = 8,
    h: int = 8,
    thresholds: Any = None,
    max_val: float | None = None,
) -> Any:
    panel = (
        bargauge.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .span(w)
        .height(h)
        .orientation(cm.VizOrientation.HORIZONTAL)
        .display_mode(cm.BarGaugeDisplayMode.GRADIENT)
        .show_unfilled(True)
        .reduce_options(reduce_last())
        .thresholds(thresholds or steps((None, BLUE)))
        .min(0)
    )
    if max_val is not None:
        panel = panel.max(max_val)
    return with_queries(panel, queries)


def dashboard(key: str, title: str, description: str, time_from: str) -> Any:
    return (
        db.Dashboard(title)
        .uid(UIDS[key])
        .description(description)
        .tags([TAG])
        .editable()
        .timezone("browser")
        .time(time_from, "now")
        .refresh("5m")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .with_variable(
            db.DatasourceVariable("datasource").label("Data source").type("prometheus").regex("")
        )
        .link(
            db.DashboardLink("Budget dashboards")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(True)
            .include_vars(False)
            .keep_time(True)
        )
    )


def label_variable(
    name: str,
    label: str,
    metric: str,
    multi: bool,
    description: str,
) -> Any:
    variable = (
        db.QueryVariable(name)
        .label(label)
        .description(description)
        .datasource(DS)
        .query(
            {
                "qryType": 1,
                "query": f"label_values({metric}, {name_label(name)})",
                "refId": "PrometheusVariableQueryEditor-VariableQuery",
            }
        )
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
    )
    if multi:
        variable = (
            variable.multi(True)
            .include_all(True)
            .all_value(".*")
            .current(dm.VariableOption(selected=True, text="All", value="$__all"))
        )
    return variable


def name_label(variable: str) -> str:
    """The label a variable's values come from."""
    return {"scope": "budget"}.get(variable, variable)


def money() -> str:
    return CURRENCY_UNIT


CURRENCY_UNIT = "currencyUSD"


# --------------------------------------------------------------------------- 1. cost overview

TEAM = 'team=~"$team"'


def cost_overview() -> Any:
    d = dashboard(
        "overview",
        "Budgets / Cost overview",
        "Where the money goes: spend per period, the biggest spenders, every budget's status "
        "and cost anomalies.",
        "now-7d",
    )
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

    d = d.with_row(db.Row("Spend so far"))
    for title, period, what in (
        ("Spend today", "daily", "daily budgets (since midnight in the configured time zone)"),
        ("Spend month to date", "monthly", "monthly budgets (since the 1st)"),
        ("Spend year to date", "yearly", "yearly budgets (since 1 January)"),
    ):
        d = d.with_panel(
            stat_panel(
                title,
                f"Sum over the leaf {what} of the selected teams; a parent budget is not added "
                "on top of its children. Credits and refunds lower it.",
                [
                    q(
                        "sum by (currency) (team_period:budget_spend:sum"
                        f'{{period="{period}", {TEAM}}})',
                        "{{currency}}",
                        instant=True,
                    )
                ],
                money(),
                w=6,
                no_value=f"No {period} budget",
            )
        )
    d = d.with_panel(
        stat_panel(
            "Utilization by period",
            "Spend over limits of all leaf budgets of each period length.",
            [q("period:budget_utilization:ratio", "{{period}}", instant=True)],
            "percentunit",
            w=6,
            thresholds=_util_steps(),
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
            money(),
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
            thresholds=_util_steps(),
            max_val=1.2,
        )
    )

    d = d.with_row(db.Row("Budgets"))
    d = d.with_panel(budgets_table())
    d = d.with_panel(
        bar_panel(
            "Utilization",
            "Spend divided by limit for every budget; 100% means the budget is used up.",
            [q(f"sort_desc(budget_utilization_ratio{{{TEAM}}})", "{{budget}}", instant=True)],
            "percentunit",
            w=8,
            h=10,
            thresholds=steps((None, GREEN), (0.75, YELLOW), (0.9, ORANGE), (1.0, RED)),
            max_val=1.2,
        )
    )

    d = d.with_panel(
        series_panel(
            "Spend this period by budget",
            "Spend to date of each budget over time; it drops back when a period resets.",
            [q(f"budget_spend{{{TEAM}}}", "{{budget}}")],
            money(),
            w=24,
        )
    )

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
            money(),
            w=8,
            h=8,
        )
        .repeat("dimension")
        .repeat_direction("h")
        .max_per_row(3)
    )
    d = d.with_panel(top)
    d = d.with_row(db.Row("Anomalies"))
    d = d.with_panel(
        series_panel(
            "Cost anomaly score",
            "Spend of the newest complete day against the median of the same weekday in recent "
            "weeks, in robust standard deviations; above 4 is unusual spend worth a look.",
            [q(f"budget_cost_anomaly_score{{{TEAM}}}", "{{budget}}")],
            "none",
            w=16,
            thresholds=steps((None, GREEN), (4, ORANGE), (6, RED)),
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
            thresholds=steps((None, GREEN), (0.5, ORANGE), (0.8, RED)),
            max_val=1,
        )
    )
    return d


def budgets_table() -> Any:
    columns = [
        ("A", f"sum by (budget) (budget_spend{{{TEAM}}})", "Spend"),
        ("B", f"sum by (budget) (budget_limit{{{TEAM}}})", "Limit"),
        ("C", f"sum by (budget) (budget_remaining{{{TEAM}}})", "Remaining"),
        ("D", f"max by (budget) (budget_utilization_ratio{{{TEAM}}})", "Utilization"),
        ("E", f"max by (budget) (budget_period_elapsed_ratio{{{TEAM}}})", "Period elapsed"),
        ("F", f'max by (budget) (budget_burn_rate{{{TEAM}, window="period"}})', "Burn rate"),
        ("G", f"sum by (budget) (budget_threshold_reached{{{TEAM}}})", "Thresholds reached"),
        (
            "H",
            f"max by (budget) (budget:budget_forecast_utilization:ratio{{{TEAM}}})",
            "Forecast / limit",
        ),
        ("I", f"min by (budget) (budget:budget_exhaustion:days{{{TEAM}}})", "Days to exhaustion"),
    ]
    panel = (
        table.Panel()
        .title("Budgets")
        .description(
            "Every budget with its status: utilization coloured at 75/90/100%, burn rate "
            "(1 = on pace to use exactly the limit) and how many of its alert thresholds "
            "are reached. Click a budget for its detail."
        )
        .span(16)
        .height(10)
        .unit(money())
        .with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True},
                    "renameByName": {f"Value #{ref}": name for ref, _, name in columns},
                    "indexByName": {"budget": 0}
                    | {f"Value #{ref}": i + 1 for i, (ref, _, _) in enumerate(columns)},
                },
            )
        )
        .override_by_name(
            "budget",
            [
                dm.DynamicConfigValue(
                    id_val="links",
                    value=[
                        {
                            "title": "Budget detail",
                            "url": f"/d/{UIDS['detail']}?var-budget=${{__value.raw}}"
                            "&${datasource:queryparam}&${__url_time_range}",
                        }
                    ],
                )
            ],
        )
    )
    for name, unit, cell, th in (
        ("Utilization", "percentunit", "color-background", _util_steps()),
        ("Period elapsed", "percentunit", "auto", None),
        ("Forecast / limit", "percentunit", "color-text", _util_steps()),
        ("Days to exhaustion", "d", "color-text", steps((None, RED), (7, ORANGE), (30, GREEN))),
        ("Burn rate", "none", "color-text", steps((None, GREEN), (1.0, ORANGE), (1.5, RED))),
        (
            "Thresholds reached",
            "none",
            "color-background",
            steps((None, GREEN), (1, YELLOW), (2, ORANGE), (3, RED)),
        ),
    ):
        props = [
            dm.DynamicConfigValue(id_val="unit", value=unit),
            dm.DynamicConfigValue(id_val="custom.cellOptions", value={"type": cell}),
        ]
        if th is not None:
            props.append(dm.DynamicConfigValue(id_val="thresholds", value=th.build()))
        panel = panel.override_by_name(name, props)
    panel = panel.override_by_name(
        "Remaining",
        [
            dm.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-text"}),
            dm.DynamicConfigValue(
                id_val="thresholds", value=steps((None, RED), (0, GREEN)).build()
            ),
        ],
    )
    return with_queries(
        panel,
        [q(expr, instant=True, table_format=True).ref_id(ref) for ref, expr, _ in columns],
    )


def _util_steps() -> Any:
    return steps((None, GREEN), (0.75, YELLOW), (0.9, ORANGE), (1.0, RED))


def utilization_gauge() -> Any:
    """The utilization gauge, coloured at the budget's own configured thresholds.

    Table queries give one row per budget (utilization, a green base step at 0 and each
    severity's threshold); "Rows to fields" turns the row into a field whose threshold steps come
    from its columns, so the gauge draws this budget's thresholds, not fixed ones.
    """
    columns = [
        ("A", f"max by (budget) (budget_utilization_ratio{{{B}}})", "field.value", ""),
        ("B", f"max by (budget) (budget_utilization_ratio{{{B}}}) * 0", "threshold1", GREEN),
    ] + [
        (
            ref,
            f'max by (budget) (budget_alert_threshold_ratio{{{B}, severity="{severity}"}})',
            "threshold1",
            color,
        )
        for ref, severity, color in (
            ("C", "notice", YELLOW),
            ("D", "warning", ORANGE),
            ("E", "critical", RED),
        )
    ]
    mappings: list[dict[str, Any]] = [{"fieldName": "budget", "handlerKey": "field.name"}]
    for ref, _, handler, color in columns:
        mapping: dict[str, Any] = {"fieldName": f"Value #{ref}", "handlerKey": handler}
        if color:
            mapping["handlerArguments"] = {"threshold": {"color": color}}
        mappings.append(mapping)
    panel = (
        gauge.Panel()
        .title("Utilization")
        .description(
            "Spend so far divided by the limit, coloured at this budget's own alert thresholds "
            "(notice yellow, warning orange, critical red) from budget_alert_threshold_ratio."
        )
        .unit("percentunit")
        .min(0)
        .max(1.2)
        .span(6)
        .height(8)
        .reduce_options(reduce_last())
        .show_threshold_markers(True)
        .thresholds(_util_steps())
        .with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(
            dm.DataTransformerConfig(id_val="organize", options={"excludeByName": {"Time": True}})
        )
        .with_transformation(
            dm.DataTransformerConfig(id_val="rowsToFields", options={"mappings": mappings})
        )
    )
    return with_queries(
        panel,
        [q(expr, instant=True, table_format=True).ref_id(ref) for ref, expr, _, _ in columns],
    )


# --------------------------------------------------------------------------- 2. budget detail

B = 'budget="$budget"'


def budget_detail() -> Any:
    d = dashboard(
        "detail",
        "Budgets / Budget detail",
        "One budget: where it stands, how fast it burns, where the forecast says it will end "
        "the period and how sure that forecast is.",
        "now-30d",
    )
    d = d.with_variable(
        label_variable("budget", "Budget", "budget_info", False, "The budget to show.")
    )

    d = d.with_row(db.Row("Now"))
    d = d.with_panel(utilization_gauge())
    d = d.with_panel(
        stat_panel(
            "Spend and limit",
            "Spend so far this period, the limit, and what remains (negative: overspent).",
            [
                q(f"budget_spend{{{B}}}", "spend", instant=True),
                q(f"budget_limit{{{B}}}", "limit", instant=True),
                q(f"budget_remaining{{{B}}}", "remaining", instant=True),
                q(f"budget_average_daily_spend{{{B}}}", "per day (average)", instant=True),
            ],
            money(),
            w=10,
            h=8,
        )
    )
    d = d.with_panel(
        stat_panel(
            "Period elapsed",
            "Share of the period gone; compare with utilization: spend ahead of time is burning "
            "too fast.",
            [q(f"budget_period_elapsed_ratio{{{B}}}", "elapsed", instant=True)],
            "percentunit",
            w=4,
            h=8,
        )
    )
    d = d.with_panel(
        stat_panel(
            "Forecast total / limit",
            "Expected period total (forecast mean) divided by the limit; above 100% the "
            "budget is expected to overrun.",
            [q(f"budget:budget_forecast_utilization:ratio{{{B}}}", "forecast", instant=True)],
            "percentunit",
            w=4,
            h=8,
            thresholds=_util_steps(),
        )
    )
    d = d.with_panel(
        stat_panel(
            "Limit runs out",
            "When spend reaches the limit: method=pace at the period's pace so far, "
            "method=forecast where the expected cumulative spend crosses it. In the past when "
            "already reached.",
            [
                q(
                    f"budget_projected_exhaustion_timestamp_seconds{{{B}}} * 1000",
                    "{{method}}",
                    instant=True,
                )
            ],
            "dateTimeFromNow",
            w=8,
            h=4,
            thresholds=steps((None, RED)),
            no_value="Limit holds this period",
        )
    )
    d = d.with_panel(
        stat_panel(
            "Days until the limit runs out",
            "Days to the earliest projected exhaustion (pace or forecast); negative when the "
            "limit was already reached.",
            [q(f"budget:budget_exhaustion:days{{{B}}}", "days", instant=True)],
            "d",
            w=4,
            h=4,
            thresholds=steps((None, RED)),
            no_value="Limit holds",
        )
    )
    d = d.with_panel(
        stat_panel(
            "Period dates",
            "Start and end (reset) of the current period, and the end of the newest cost data "
            "behind these numbers.",
            [
                q(f"budget_period_start_timestamp_seconds{{{B}}} * 1000", "started", instant=True),
                q(f"budget_period_end_timestamp_seconds{{{B}}} * 1000", "resets", instant=True),
                q(f"budget_data_as_of_timestamp_seconds{{{B}}} * 1000", "data as of", instant=True),
            ],
            "dateTimeFromNow",
            w=12,
            h=4,
        )
    )

    d = d.with_row(db.Row("Pace"))
    d = d.with_panel(
        series_panel(
            "Spend against limit",
            "Spend to date and the limit over time.",
            [
                q(f"budget_spend{{{B}}}", "spend"),
                q(f"budget_limit{{{B}}}", "limit"),
            ],
            money(),
            min_val=0,
        ).override_by_name(
            "limit",
            [
                dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": RED}),
                dm.DynamicConfigValue(
                    id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}
                ),
            ],
        )
    )
    d = d.with_panel(
        series_panel(
            "Utilization against this budget's thresholds",
            "Utilization and each configured alert threshold (ratio of the limit); an alert "
            "fires when the line crosses its threshold.",
            [
                q(f"budget_utilization_ratio{{{B}}}", "utilization"),
                q(f"budget_alert_threshold_ratio{{{B}}}", "{{severity}}"),
            ],
            "percentunit",
            min_val=0,
        )
    )
    d = d.with_panel(
        series_panel(
            "Burn rate by window",
            "Spend pace over each window divided by the pace that uses exactly the limit by "
            "period end: 1 = on pace, 2 = twice too fast. window=period is period-to-date.",
            [q(f"budget_burn_rate{{{B}}}", "{{window}}")],
            "none",
            w=24,
            thresholds=steps((None, GREEN), (1.0, RED)),
            threshold_lines=True,
            min_val=0,
        )
    )

    d = d.with_row(db.Row("Forecast"))
    bands = [
        q(f'budget_forecast_spend{{{B}, bound="{bound}"}}', bound)
        for bound in ("lower_95", "lower_80", "mean", "upper_80", "upper_95")
    ]
    d = d.with_panel(
        series_panel(
            "Forecast of the period total",
            "Expected spend at period end with its 80% and 95% intervals, against the limit. "
            "Read how it moved over the period: a band drifting up towards the limit is the "
            "early warning.",
            [*bands, q(f"budget_limit{{{B}}}", "limit")],
            money(),
            w=16,
            h=9,
        )
        .override_by_name(
            "upper_95",
            [
                dm.DynamicConfigValue(id_val="custom.fillBelowTo", value="lower_95"),
                dm.DynamicConfigValue(id_val="custom.fillOpacity", value=12),
                dm.DynamicConfigValue(id_val="custom.lineWidth", value=0),
            ],
        )
        .override_by_name(
            "upper_80",
            [
                dm.DynamicConfigValue(id_val="custom.fillBelowTo", value="lower_80"),
                dm.DynamicConfigValue(id_val="custom.fillOpacity", value=20),
                dm.DynamicConfigValue(id_val="custom.lineWidth", value=0),
            ],
        )
        .override_by_regexp(
            "lower_.*",
            [dm.DynamicConfigValue(id_val="custom.lineWidth", value=0)],
        )
        .override_by_name(
            "limit",
            [dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": RED})],
        )
    )
    d = d.with_panel(
        stat_panel(
            "Overrun probability",
            "Probability that this period's total exceeds the limit.",
            [q(f"budget_forecast_overrun_probability{{{B}}}", "{{method}}", instant=True)],
            "percentunit",
            w=4,
            h=9,
            thresholds=steps((None, GREEN), (0.5, ORANGE), (0.8, RED)),
        )
    )
    d = d.with_panel(
        stat_panel(
            "How much to trust it",
            "Backtest on this budget's own history: error of the period total (MAPE) and how "
            "often the 80% and 95% intervals held the actual total (close to 80% and 95% is "
            "well calibrated).",
            [
                q(f"budget_forecast_backtest_mape{{{B}}}", "period total error", instant=True),
                q(
                    f"budget_forecast_interval_coverage{{{B}}}",
                    "{{level}} interval held",
                    instant=True,
                ),
            ],
            "percentunit",
            w=4,
            h=9,
        )
    )
    d = d.with_panel(
        stat_panel(
            "Expected spend ahead",
            "Total spend expected over the next 30 and 90 days, for capacity planning.",
            [q(f"budget_forecast_horizon_spend{{{B}}}", "next {{horizon}}", instant=True)],
            money(),
            w=8,
            h=4,
        )
    )
    d = d.with_panel(
        series_panel(
            "Anomaly score",
            "How unusual the newest complete day is for this budget (and its top dimension "
            "values), in robust standard deviations from the same weekday; above 4 is unusual.",
            [
                q(f"budget_cost_anomaly_score{{{B}}}", "total"),
                q(f"budget_cost_anomaly_score_by_dimension{{{B}}}", "{{dimension}}={{value}}"),
            ],
            "none",
            w=16,
            h=6,
            thresholds=steps((None, GREEN), (4, ORANGE), (6, RED)),
            threshold_lines=True,
        )
    )

    d = d.with_row(db.Row("Breakdown and children"))
    d = d.with_panel(
        bar_panel(
            "Spend by dimension",
            'Spend so far this period by configured dimension; "other" sums the rest.',
            [
                q(
                    f"sort_desc(budget_spend_by_dimension{{{B}}})",
                    "{{dimension}}: {{value}}",
                    instant=True,
                )
            ],
            money(),
            w=8,
            h=10,
        )
    )
    d = d.with_panel(
        bar_panel(
            "Children of this budget",
            "Utilization of the budgets whose parent is this one.",
            [
                q(
                    "sort_desc(budget_utilization_ratio * on (budget) group_left () "
                    'budget_info{parent="$budget"})',
                    "{{budget}}",
                    instant=True,
                )
            ],
            "percentunit",
            w=8,
            h=10,
            thresholds=_util_steps(),
            max_val=1.2,
        )
    )
    d = d.with_panel(
        stat_panel(
            "Allocated to children",
            "Sum of the children's limits (scaled to this period) and its share of this "
            "limit; above 100% the parent is over-allocated.",
            [q(f"budget_children_limit{{{B}}}", "children's limits", instant=True)],
            money(),
            w=4,
            h=10,
            no_value="No children",
        )
    )
    d = d.with_panel(
        stat_panel(
            "Allocation and children's spend",
            "Children's limits divided by this budget's limit (above 100%: over-allocated), and "
            "what the children spent so far over this limit.",
            [
                q(f"budget_children_allocation_ratio{{{B}}}", "limits allocated", instant=True),
                q(
                    f"parent_period:budget_children_utilization:ratio{{{B}}}",
                    "spent by children",
                    instant=True,
                ),
            ],
            "percentunit",
            w=4,
            h=10,
            thresholds=steps((None, GREEN), (1.0, RED)),
            no_value="No children",
        )
    )
    return plan_and_insights(d)


def recommendations_table() -> Any:
    """The standing recommendations of the budget, one row each."""
    panel = (
        table.Panel()
        .title("Recommendations")
        .description(
            "What to act on first: reduce_pace when the period's pace is above the ideal daily "
            "rate by the configured factor (value: pace over ideal); review_resource or "
            "review_owner when one service or owner is above its configured share of the "
            "spend (value: its share). Empty when nothing stands out."
        )
        .span(12)
        .height(8)
        .unit("none")
        .no_value("No recommendation")
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {
                        "Time": True,
                        "__name__": True,
                        "job": True,
                        "instance": True,
                    },
                    "renameByName": {"Value": "Measured"},
                },
            )
        )
    )
    return with_queries(
        panel, [q(f"budget_recommendation{{{B}}}", instant=True, table_format=True)]
    )


def plan_and_insights(d: Any) -> Any:
    """Row of the amount in force, the variance against plan, and the daily pattern."""
    d = d.with_row(db.Row("Plan and insights"))
    d = d.with_panel(
        stat_panel(
            "Amount in force",
            "This period's own amount (fixed, planned or derived from earlier periods) and the "
            "unused money rolled over from the previous period; the limit is their sum.",
            [
                q(f"budget_base_amount{{{B}}}", "own amount", instant=True),
                q(f"budget_rollover_amount{{{B}}}", "rolled over", instant=True),
            ],
            money(),
            w=6,
            h=5,
        )
    )
    d = d.with_panel(
        stat_panel(
            "Amount source",
            "Where this period's amount comes from, and how many earlier periods an "
            "auto-adjusting amount was derived from (0 for other sources).",
            [
                q(f"budget_amount_source{{{B}}} == 1", "{{source}}", instant=True),
                q(f"budget_amount_source_periods{{{B}}}", "periods read", instant=True),
            ],
            "none",
            w=6,
            h=5,
        )
    )
    d = d.with_panel(
        stat_panel(
            "Variance against plan",
            "Spend so far against the spend expected for the elapsed share of the period "
            "(limit spread evenly): above the configured over threshold the budget is ahead "
            "of plan.",
            [q(f"budget_spend_variance_ratio{{{B}}}", "variance", instant=True)],
            "percentunit",
            w=4,
            h=5,
            thresholds=steps((None, GREEN), (0.05, ORANGE), (0.15, RED)),
        )
    )
    d = d.with_panel(
        stat_panel(
            "Expected and ideal spend",
            "Spend expected by now if the limit were spent evenly, how far spend is ahead of "
            "it (negative: behind), and the spend per day that ends the period exactly at the "
            "limit from here.",
            [
                q(f"budget_expected_spend{{{B}}}", "expected by now", instant=True),
                q(f"budget_spend_variance{{{B}}}", "ahead of plan", instant=True),
                q(f"budget_ideal_daily_spend{{{B}}}", "ideal per day from now", instant=True),
            ],
            money(),
            w=8,
            h=5,
        )
    )
    d = d.with_panel(recommendations_table())
    d = d.with_panel(
        bar_panel(
            "Burn rate by weekday",
            "Mean spend of each weekday over recent weeks divided by the ideal daily spend of "
            "the limit: the days that spend too fast.",
            [q(f"budget_weekday_burn_rate{{{B}}}", "{{weekday}}", instant=True)],
            "none",
            w=6,
            h=8,
            thresholds=steps((None, GREEN), (1.0, RED)),
        )
    )
    d = d.with_panel(
        stat_panel(
            "Trend of daily spend",
            "Change of daily spend per day over recent weeks (least-squares slope), and the "
            "probability of such a slope without a trend: below 0.05 it is significant.",
            [
                q(f"budget_daily_spend_trend{{{B}}}", "change per day", instant=True),
                q(f"budget_daily_spend_trend_p_value{{{B}}}", "p-value", instant=True),
            ],
            money(),
            w=6,
            h=8,
        ).override_by_name("p-value", [dm.DynamicConfigValue(id_val="unit", value="none")])
    )
    return d


# --------------------------------------------------------------------------- 3. error budgets

SLO = 'slo=~"$slo", team=~"$team"'


def error_budgets() -> Any:
    d = dashboard(
        "slo",
        "Budgets / Error budgets",
        "SLO error budgets: what is left, how fast it burns against the alert factors, when it "
        "runs out, and which incidents spent it.",
        "now-7d",
    )
    d = d.with_variable(
        label_variable("team", "Team", "slo_info", True, "SLOs whose team label matches.")
    )
    d = d.with_variable(
        label_variable("slo", "SLO", 'slo_info{team=~"$team"}', True, "SLOs to show.")
    )

    d = d.with_row(db.Row("Budget left"))
    d = d.with_panel(
        bar_panel(
            "Error budget remaining",
            "Share of the window's error budget not yet spent; below zero the SLO is broken.",
            [q(f"sort(slo_error_budget_remaining_ratio{{{SLO}}})", "{{slo}}", instant=True)],
            "percentunit",
            w=8,
            thresholds=steps((None, RED), (0, ORANGE), (0.25, YELLOW), (0.5, GREEN)),
            max_val=1,
        ).min(-0.5)
    )
    d = d.with_panel(
        stat_panel(
            "Objective",
            "Target share of good time over the SLO window.",
            [q(f"slo_objective_ratio{{{SLO}}}", "{{slo}}", instant=True)],
            "percentunit",
            w=4,
            h=8,
            decimals=3,
        )
    )
    d = d.with_panel(
        stat_panel(
            "Error budget and spent",
            "Allowed bad time over the window (window x (1 - objective)), bad time spent and "
            "what is left (negative when the SLO is broken).",
            [
                q(f"slo_error_budget_seconds{{{SLO}}}", "{{slo}} budget", instant=True),
                q(f"slo_error_budget_consumed_seconds{{{SLO}}}", "{{slo}} spent", instant=True),
                q(f"slo_error_budget_remaining_seconds{{{SLO}}}", "{{slo}} left", instant=True),
            ],
            "s",
            w=6,
            h=8,
        )
    )
    d = d.with_panel(
        stat_panel(
            "Probability of running out",
            "Probability that the error budget is exhausted within the horizon, from the "
            "incident history.",
            [
                q(
                    f"slo_error_budget_exhaustion_probability{{{SLO}}}",
                    "{{slo}} within {{horizon}}",
                    instant=True,
                )
            ],
            "percentunit",
            w=6,
            h=8,
            thresholds=steps((None, GREEN), (0.5, ORANGE), (0.8, RED)),
        )
    )

    d = d.with_panel(
        stat_panel(
            "Runs out",
            "Projected exhaustion, one value per method (at the current burn rate, and from "
            "the trend of daily consumption). Absent when not exhausting.",
            [
                q(
                    f"slo_error_budget_projected_exhaustion_timestamp_seconds{{{SLO}}} * 1000",
                    "{{slo}} ({{method}})",
                    instant=True,
                )
            ],
            "dateTimeFromNow",
            w=8,
            h=4,
            thresholds=steps((None, RED)),
            no_value="Not exhausting",
        )
    )
    d = d.with_panel(
        stat_panel(
            "Days until exhausted",
            "Days to the earliest projected exhaustion; negative when already exhausted.",
            [q(f"slo:error_budget_exhaustion:days{{{SLO}}}", "{{slo}}", instant=True)],
            "d",
            w=8,
            h=4,
            thresholds=steps((None, RED), (7, ORANGE), (30, GREEN)),
            no_value="Not exhausting",
        )
    )

    d = d.with_panel(
        stat_panel(
            "Window started",
            "Start of each SLO's window: now minus the window when rolling, the start of the "
            "month or quarter when calendar-aligned.",
            [
                q(
                    f"slo_window_start_timestamp_seconds{{{SLO}}} * 1000",
                    "{{slo}}",
                    instant=True,
                )
            ],
            "dateTimeFromNow",
            w=8,
            h=4,
        )
    )

    d = d.with_row(db.Row("Burn rate"))
    d = d.with_panel(
        bar_panel(
            "Alert pairs against their factors",
            "For each multiwindow pair, the lower of its two burn rates divided by the pair's "
            "alert factor (1h & 5m: 14.4, 6h & 30m: 6 page; 1d & 2h: 3, 3d & 6h: 1 ticket). "
            "At 100% both windows exceed the factor and the alert condition holds.",
            [
                q(
                    " or ".join(
                        f'slo:burn_rate:min_pair{{{SLO}, long="{long}"}} / {factor}'
                        for long, factor in (("1h", 14.4), ("6h", 6), ("1d", 3), ("3d", 1))
                    ),
                    "{{slo}} {{long}} & {{short}}",
                    instant=True,
                )
            ],
            "percentunit",
            w=24,
            h=8,
            thresholds=steps((None, GREEN), (0.5, YELLOW), (1.0, RED)),
            max_val=1.5,
        )
    )
    factor_steps = steps((None, GREEN), *SLO_ALERT_FACTORS)
    for title, windows, note in (
        (
            "Page: fast burn windows",
            "5m|30m|1h|6h",
            "Pages when 1h and 5m both exceed 14.4, or 6h and 30m both exceed 6.",
        ),
        (
            "Ticket: slow burn windows",
            "2h|1d|3d",
            "Tickets when 1d and 2h both exceed 3, or 3d and 6h both exceed 1.",
        ),
    ):
        d = d.with_panel(
            series_panel(
                title,
                "Bad time over the window divided by the error budget's even share of it "
                f"(1 = budget used exactly by the end of the window). {note} The dashed "
                "lines are the alert factors 1, 3, 6 and 14.4.",
                [q(f'slo_burn_rate{{{SLO}, window=~"{windows}"}}', "{{slo}} {{window}}")],
                "none",
                thresholds=factor_steps,
                threshold_lines=True,
                min_val=0,
            )
        )
    d = d.with_panel(
        series_panel(
            "Error budget remaining over time",
            "How the remaining share moved; a steep step down is an incident.",
            [q(f"slo_error_budget_remaining_ratio{{{SLO}}}", "{{slo}}")],
            "percentunit",
            w=24,
            thresholds=steps((None, RED), (0, GREEN)),
            threshold_lines=True,
        )
    )

    d = d.with_row(db.Row("Where it went"))
    d = d.with_panel(
        bar_panel(
            "Consumption by category",
            "Bad time in the window by incident category (incident, deployment, ...); excluded "
            "categories do not count against the budget.",
            [
                q(
                    f"sort_desc(slo_error_budget_consumed_by_category_seconds{{{SLO}}})",
                    "{{slo}}: {{category}}",
                    instant=True,
                )
            ],
            "s",
            w=12,
        )
    )
    d = d.with_panel(
        stat_panel(
            "Open incidents",
            "Incidents of each SLO still open (they count up to now).",
            [q(f"slo_open_incidents{{{SLO}}}", "{{slo}}", instant=True)],
            "none",
            w=6,
            h=8,
            thresholds=steps((None, GREEN), (1, RED)),
        )
    )
    d = d.with_panel(
        stat_panel(
            "Incidents in the window",
            "Incidents that overlap the SLO window.",
            [q(f"slo_window_incidents{{{SLO}}}", "{{slo}}", instant=True)],
            "none",
            w=6,
            h=8,
        )
    )
    return d


# --------------------------------------------------------------------------- 4. exporter health

JOB = 'job=~"$job"'


def exporter_health() -> Any:
    d = dashboard(
        "health",
        "Budgets / Exporter health",
        "Is the data behind the budgets fresh and complete: scrapes, provider refreshes, "
        "errors, bad rows and data age.",
        "now-24h",
    )
    d = d.with_variable(
        label_variable(
            "job", "Job", "budget_exporter_build_info", True, "Scrape jobs of the exporter."
        )
    )
    d = d.with_row(db.Row("Exporter"))
    up_mapping = [
        dm.ValueMap(
            options={
                "0": dm.ValueMappingResult(text="down", color=RED, index=0),
                "1": dm.ValueMappingResult(text="up", color=GREEN, index=1),
            }
        )
    ]
    d = d.with_panel(
        stat_panel(
            "Scrape",
            "Whether Prometheus reaches the exporter.",
            [q(f"up{{{JOB}}}", "{{instance}}", instant=True)],
            "none",
            w=4,
            thresholds=steps((None, RED), (1, GREEN)),
        ).mappings(up_mapping)
    )
    d = d.with_panel(
        stat_panel(
            "Version",
            "Exporter version per instance.",
            [q(f"budget_exporter_build_info{{{JOB}}}", "{{instance}} {{version}}", instant=True)],
            "none",
            w=4,
        ).text_mode(cm.BigValueTextMode.NAME)
    )
    d = d.with_panel(
        stat_panel(
            "Snapshot age",
            "Time since the served numbers were computed (they are recomputed every "
            "evaluation interval).",
            [
                q(
                    f"time() - budget_exporter_snapshot_timestamp_seconds{{{JOB}}}",
                    "{{instance}}",
                    instant=True,
                )
            ],
            "s",
            w=4,
        )
    )
    d = d.with_panel(
        series_panel(
            "Evaluation and scrape duration",
            "Time to compute a snapshot from cached cost data, and the scrape itself.",
            [
                q(f"budget_exporter_evaluation_duration_seconds{{{JOB}}}", "evaluation"),
                q(f"scrape_duration_seconds{{{JOB}}}", "scrape {{instance}}"),
            ],
            "s",
            h=4,
        )
    )

    d = d.with_row(db.Row("Providers"))
    provider_up = [
        dm.ValueMap(
            options={
                "0": dm.ValueMappingResult(text="failing", color=RED, index=0),
                "1": dm.ValueMappingResult(text="ok", color=GREEN, index=1),
            }
        )
    ]
    d = d.with_panel(
        stat_panel(
            "Provider up",
            "Whether each provider's last refresh succeeded; when failing, its last good data "
            "is still served and getting old.",
            [q(f"budget_exporter_provider_up{{{JOB}}}", "{{provider}}", instant=True)],
            "none",
            w=6,
            thresholds=steps((None, RED), (1, GREEN)),
        ).mappings(provider_up)
    )
    d = d.with_panel(
        stat_panel(
            "Last successful refresh",
            "When each provider last refreshed successfully.",
            [
                q(
                    f"budget_exporter_provider_last_success_timestamp_seconds{{{JOB}}} * 1000",
                    "{{provider}}",
                    instant=True,
                )
            ],
            "dateTimeFromNow",
            w=6,
        )
    )
    d = d.with_panel(
        stat_panel(
            "Failed refreshes in range",
            "Failed refreshes over the dashboard's time range (counter increase).",
            [
                q(
                    f"increase(budget_exporter_provider_errors_total{{{JOB}}}[$__range])",
                    "{{provider}}",
                    instant=True,
                )
            ],
            "none",
            w=6,
            thresholds=steps((None, GREEN), (1, RED)),
            decimals=0,
        )
    )
    d = d.with_panel(
        stat_panel(
            "Bad rows",
            "Rows rejected or read only in part in each provider's last refresh; the log names "
            "file and line.",
            [q(f"budget_exporter_provider_bad_rows{{{JOB}}}", "{{provider}}", instant=True)],
            "none",
            w=6,
            thresholds=steps((None, GREEN), (1, ORANGE)),
        )
    )
    d = d.with_panel(
        series_panel(
            "Data age",
            "Time since the end of the newest cost data, and since the data became final "
            "(later days are provisional and re-read). Billing data usually lags by hours.",
            [
                q(
                    f"time() - budget_exporter_provider_data_newest_timestamp_seconds{{{JOB}}}",
                    "{{provider}} newest",
                ),
                q(
                    f"time() - budget_exporter_provider_data_settled_timestamp_seconds{{{JOB}}}",
                    "{{provider}} settled",
                ),
            ],
            "s",
            min_val=0,
        )
    )
    d = d.with_panel(
        series_panel(
            "Refresh duration",
            "How long each provider's last refresh took.",
            [q(f"budget_exporter_provider_refresh_duration_seconds{{{JOB}}}", "{{provider}}")],
            "s",
            min_val=0,
        )
    )
    d = d.with_panel(
        series_panel(
            "Refresh errors",
            "Failed refreshes per hour.",
            [
                q(
                    f"rate(budget_exporter_provider_errors_total{{{JOB}}}[$__rate_interval]) "
                    "* 3600",
                    "{{provider}}",
                )
            ],
            "none",
            min_val=0,
        )
    )
    d = d.with_panel(
        series_panel(
            "Cost rows held",
            "Normalized cost rows cached per provider (hourly or daily buckets).",
            [q(f"budget_exporter_provider_rows{{{JOB}}}", "{{provider}}")],
            "short",
            min_val=0,
        )
    )
    return d


# --------------------------------------------------------------------------- output

BUILDERS = {
    "cost-overview.json": cost_overview,
    "budget-detail.json": budget_detail,
    "error-budgets.json": error_budgets,
    "exporter-health.json": exporter_health,
}


def _number(model: dict[str, Any]) -> dict[str, Any]:
    """Panel ids 1..n in layout order and refIds A, B, ... where the builder left none."""
    next_id = 1
    for panel in model.get("panels", []):
        panel["id"] = next_id
        next_id += 1
        for index, target in enumerate(panel.get("targets", [])):
            if not target.get("refId"):
                target["refId"] = chr(ord("A") + index)
    return model


def render(builder: Any) -> str:
    """One dashboard as the JSON text committed under grafana/dashboards/."""
    model = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return json.dumps(_number(model), indent=2, sort_keys=True) + "\n"


def generate(currency_unit: str = "currencyUSD") -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    global CURRENCY_UNIT
    CURRENCY_UNIT = currency_unit
    return {name: render(build()) for name, build in BUILDERS.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the files are stale")
    parser.add_argument(
        "--currency-unit",
        default="currencyUSD",
        help="Grafana unit for money (currencyUSD, currencyEUR, currencyGBP, ...)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help="output folder")
    args = parser.parse_args(argv)
    stale = []
    for name, text in generate(args.currency_unit).items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"stale: {', '.join(stale)}; run grafana/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
