"""Budgets / Budget detail: one budget, its pace, its forecast and its plan."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard as db

from grafana.builders.panels import (
    anomaly_steps,
    average_daily_spend,
    bar_panel,
    dashboard,
    elapsed_share,
    gauge_panel,
    ideal_daily_spend,
    label_variable,
    override,
    overrun_steps,
    q,
    series_panel,
    spend_variance,
    stat_panel,
    steps,
    table_panel,
    table_queries,
    transformation,
    utilization_steps,
    with_queries,
)
from mixin.colours import GREEN, ORANGE, RED
from mixin.dashboards import BUDGET_DETAIL
from mixin.money import ANOMALY_SCORE, THRESHOLD_SEVERITIES
from mixin.promql import data_as_of, expected_spend, one_budget_thresholds

B = 'budget="$budget"'


def build(currency_unit: str) -> Any:
    """The dashboard, with money in the given Grafana unit (currencyUSD, currencyEUR, ...)."""
    d = dashboard(
        BUDGET_DETAIL,
        "One budget: where it stands, how fast it burns, where the forecast says it will end "
        "the period and how sure that forecast is.",
        "now-30d",
    )
    d = d.with_variable(
        label_variable("budget", "Budget", "budget_info", False, "The budget to show.")
    )
    d = now(d, currency_unit)
    d = pace(d, currency_unit)
    d = forecast(d, currency_unit)
    d = breakdown_and_children(d, currency_unit)
    return plan_and_insights(d, currency_unit)


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
            f"max by (budget) (\n{one_budget_thresholds(B, severity)}\n)",
            "threshold1",
            color,
        )
        for ref, (severity, color) in zip(
            "CDE", ((t.severity, t.colour) for t in THRESHOLD_SEVERITIES), strict=True
        )
    ]
    mappings: list[dict[str, Any]] = [{"fieldName": "budget", "handlerKey": "field.name"}]
    for ref, _, handler, color in columns:
        mapping: dict[str, Any] = {"fieldName": f"Value #{ref}", "handlerKey": handler}
        if color:
            mapping["handlerArguments"] = {"threshold": {"color": color}}
        mappings.append(mapping)
    panel = (
        gauge_panel(
            "Utilization",
            "Spend so far divided by the limit, coloured at this budget's own alert thresholds ("
            + ", ".join(f"{t.severity} {t.colour}" for t in THRESHOLD_SEVERITIES)
            + ") from budget_alert_threshold_ratio, or the config's defaults "
            "(budget_default_alert_threshold_ratio) for a budget without its own.",
            "percentunit",
            w=6,
            h=8,
            min_val=0,
            max_val=1.2,
            thresholds=utilization_steps(),
        )
        .with_transformation(transformation("merge"))
        .with_transformation(transformation("organize", excludeByName={"Time": True}))
        .with_transformation(transformation("rowsToFields", mappings=mappings))
    )
    return with_queries(panel, table_queries((ref, expr) for ref, expr, _, _ in columns))


RESERVED = f"budget_reserved{{{B}}} or budget_remaining{{{B}}} * 0"


def now(d: Any, currency_unit: str) -> Any:
    """Row of where the budget stands: utilization, spend, forecast and exhaustion."""
    d = d.with_row(db.Row("Now"))
    d = d.with_panel(utilization_gauge())
    d = d.with_panel(
        stat_panel(
            "Spend and limit",
            "Spend so far this period, the limit, what remains (negative: overspent), what "
            "reservations of planned spend hold, and what a new reservation can still get.",
            [
                q(f"budget_spend{{{B}}}", "spend", instant=True),
                q(f"budget_limit{{{B}}}", "limit", instant=True),
                q(f"budget_remaining{{{B}}}", "remaining", instant=True),
                # budget_reserved is there only while something is held: 0 otherwise.
                q(RESERVED, "reserved", instant=True),
                q(f"budget_remaining{{{B}}} - ({RESERVED})", "can be reserved", instant=True),
                q(average_daily_spend(B), "per day (average)", instant=True),
            ],
            currency_unit,
            w=10,
            h=8,
        )
    )
    d = d.with_panel(
        stat_panel(
            "Period elapsed",
            "Share of the period gone; compare with utilization: spend ahead of time is burning "
            "too fast.",
            [q(elapsed_share(B), "elapsed", instant=True)],
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
            thresholds=utilization_steps(),
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
                q(f"({data_as_of(B)})\n* 1000", "data as of", instant=True),
            ],
            "dateTimeFromNow",
            w=12,
            h=4,
        )
    )
    return d


def pace(d: Any, currency_unit: str) -> Any:
    """Row of spend, utilization and burn rate over time."""
    d = d.with_row(db.Row("Pace"))
    d = d.with_panel(
        series_panel(
            "Spend against limit",
            "Spend to date and the limit over time.",
            [
                q(f"budget_spend{{{B}}}", "spend"),
                q(f"budget_limit{{{B}}}", "limit"),
            ],
            currency_unit,
            min_val=0,
        ).override_by_name(
            "limit",
            [
                override("color", {"mode": "fixed", "fixedColor": RED}),
                override("custom.lineStyle", {"fill": "dash", "dash": [10, 10]}),
            ],
        )
    )
    d = d.with_panel(
        series_panel(
            "Daily spend",
            "Spend of each day: the highest value of budget_spend_today in the day, so one bar "
            "per day (days of the dashboard's time zone; budget_spend_today resets at midnight "
            "in the exporter's). Backfilled history (docs/backfill.md) fills the days before the "
            "exporter ran.",
            [q(f"max_over_time(budget_spend_today{{{B}}}[1d])", "spend")],
            currency_unit,
            min_val=0,
            bars_every="1d",
        )
    )
    d = d.with_panel(
        series_panel(
            "Utilization against this budget's thresholds",
            "Utilization and each configured alert threshold (ratio of the limit); an alert "
            "fires when the line crosses its threshold.",
            [
                q(f"budget_utilization_ratio{{{B}}}", "utilization"),
                q(one_budget_thresholds(B), "{{severity}}"),
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
            w=12,
            thresholds=steps((None, GREEN), (1.0, RED)),
            threshold_lines=True,
            min_val=0,
        )
    )
    return d


def forecast(d: Any, currency_unit: str) -> Any:
    """Row of the forecast of the period total, how far to trust it, and anomalies."""
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
            "early warning. The 95% band needs series: {forecast_95: true} in the exporter "
            "config.",
            [*bands, q(f"budget_limit{{{B}}}", "limit")],
            currency_unit,
            w=16,
            h=9,
        )
        .override_by_name(
            "upper_95",
            [
                override("custom.fillBelowTo", "lower_95"),
                override("custom.fillOpacity", 12),
                override("custom.lineWidth", 0),
            ],
        )
        .override_by_name(
            "upper_80",
            [
                override("custom.fillBelowTo", "lower_80"),
                override("custom.fillOpacity", 20),
                override("custom.lineWidth", 0),
            ],
        )
        .override_by_regexp(
            "lower_.*",
            [override("custom.lineWidth", 0)],
        )
        .override_by_name(
            "limit",
            [override("color", {"mode": "fixed", "fixedColor": RED})],
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
            thresholds=overrun_steps(),
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
            "Total spend expected over the next 30 and 90 days, for capacity planning. Needs "
            "series: {forecast_horizons: true} in the exporter config.",
            [q(f"budget_forecast_horizon_spend{{{B}}}", "next {{horizon}}", instant=True)],
            currency_unit,
            w=8,
            h=4,
        )
    )
    d = d.with_panel(
        series_panel(
            "Anomaly score",
            "How unusual the newest complete day is for this budget (and its top dimension "
            "values), in robust standard deviations from the same weekday; above "
            f"{ANOMALY_SCORE} is unusual. The values' scores need series: "
            "{anomaly_by_dimension: true} in the exporter config.",
            [
                q(f"budget_cost_anomaly_score{{{B}}}", "total"),
                q(f"budget_cost_anomaly_score_by_dimension{{{B}}}", "{{dimension}}={{value}}"),
            ],
            "none",
            w=16,
            h=6,
            thresholds=anomaly_steps(),
            threshold_lines=True,
        )
    )
    return d


def breakdown_and_children(d: Any, currency_unit: str) -> Any:
    """Row of spend by dimension and of the budgets below this one."""
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
            currency_unit,
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
            thresholds=utilization_steps(),
            max_val=1.2,
        )
    )
    d = d.with_panel(
        stat_panel(
            "Allocated to children",
            "Sum of the children's limits (scaled to this period) and its share of this "
            "limit; above 100% the parent is over-allocated.",
            [q(f"budget_children_limit{{{B}}}", "children's limits", instant=True)],
            currency_unit,
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
    return d


def recommendations_table() -> Any:
    """The standing recommendations of the budget, one row each."""
    panel = (
        table_panel(
            "Recommendations",
            "What to act on first: reduce_pace when the period's pace is above the ideal daily "
            "rate by the configured factor (value: pace over ideal); review_resource or "
            "review_owner when one service or owner is above its configured share of the "
            "spend (value: its share). Empty when nothing stands out.",
            "none",
            w=12,
            h=8,
        )
        .no_value("No recommendation")
        .with_transformation(
            transformation(
                "organize",
                excludeByName={"Time": True, "__name__": True, "job": True, "instance": True},
                renameByName={"Value": "Measured"},
            )
        )
    )
    return with_queries(
        panel, [q(f"budget_recommendation{{{B}}}", instant=True, table_format=True)]
    )


def plan_and_insights(d: Any, currency_unit: str) -> Any:
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
            currency_unit,
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
            [
                q(
                    f"({spend_variance(B)})\n  / ({expected_spend(B)})",
                    "variance",
                    instant=True,
                )
            ],
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
                q(expected_spend(B), "expected by now", instant=True),
                q(spend_variance(B), "ahead of plan", instant=True),
                q(ideal_daily_spend(B), "ideal per day from now", instant=True),
            ],
            currency_unit,
            w=8,
            h=5,
        )
    )
    d = d.with_panel(recommendations_table())
    d = d.with_panel(
        bar_panel(
            "Burn rate by weekday",
            "Mean spend of each weekday over recent weeks divided by the ideal daily spend of "
            "the limit: the days that spend too fast. Needs series: {weekday_pattern: true} in "
            "the exporter config.",
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
            "probability of such a slope without a trend: below 0.05 it is significant. Needs "
            "series: {trend: true} in the exporter config.",
            [
                q(f"budget_daily_spend_trend{{{B}}}", "change per day", instant=True),
                q(f"budget_daily_spend_trend_p_value{{{B}}}", "p-value", instant=True),
            ],
            currency_unit,
            w=6,
            h=8,
        ).override_by_name("p-value", [override("unit", "none")])
    )
    return d
