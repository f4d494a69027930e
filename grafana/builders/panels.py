"""Panel, variable and dashboard builders that every dashboard shares.

Conventions: fixed uids, one ``datasource`` variable that every panel and variable uses, the
``team`` label for filtering (budgets and SLOs copy their ``labels`` onto every series). Money
panels take the reporting currency's Grafana unit (``currencyUSD``, ``currencyEUR``, ...) as an
argument from the dashboard that builds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from grafana_foundation_sdk.builders import bargauge, gauge, stat, table, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus as pq
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

from mixin.colours import BLUE, GREEN, ORANGE, RED
from mixin.dashboards import TAG, Dashboard
from mixin.money import ANOMALY_SCORE, FORECAST_OVERRUN_PROBABILITY, THRESHOLD_SEVERITIES
from mixin.promql import data_as_of, expected_spend

#: uid of the datasource in grafana/provisioning/datasources/prometheus.yml.
PROVISIONED_DATASOURCE_UID = "budget-prometheus"
DS = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")

# --------------------------------------------------------------------------- queries


def q(expr: str, legend: str = "", instant: bool = False, table_format: bool = False) -> Any:
    """A Prometheus query against the dashboard's datasource variable."""
    query = pq.Dataquery().expr(expr).datasource(DS)
    if legend:
        query = query.legend_format(legend)
    if table_format:
        query = query.format(pm.PromQueryFormat.TABLE)
    return query.instant() if instant else query.range()


# Figures the exporter exports only with ``series:`` ``derived_rates``, ``variance_amounts``
# or ``threshold_states`` switched on: the dashboards compute them from the default set. The
# data-as-of time, expected spend and thresholds that a budget shares with other series come
# from mixin/promql.py, as the rules read them. ``selector`` is a label matcher such as
# ``budget="$budget"``.


def elapsed_share(selector: str) -> str:
    """The share of the period gone (budget_period_elapsed_ratio)."""
    start = f"budget_period_start_timestamp_seconds{{{selector}}}"
    end = f"budget_period_end_timestamp_seconds{{{selector}}}"
    return f"clamp((time() - {start})\n  / ({end} - {start}), 0, 1)"


def average_daily_spend(selector: str) -> str:
    """Spend per day up to the newest data (budget_average_daily_spend)."""
    return (
        f"budget_spend{{{selector}}} / ignoring(currency)\n"
        f"  ((({data_as_of(selector)})"
        f" - budget_period_start_timestamp_seconds{{{selector}}}) / 86400)"
    )


def ideal_daily_spend(selector: str) -> str:
    """What may still be spent per day to end at the limit (budget_ideal_daily_spend)."""
    return (
        f"clamp_min(budget_remaining{{{selector}}}, 0) / ignoring(currency)\n"
        f"  ((budget_period_end_timestamp_seconds{{{selector}}}"
        f" - ({data_as_of(selector)})) / 86400)"
    )


def spend_variance(selector: str) -> str:
    """Spend ahead of the plan so far, in currency (budget_spend_variance)."""
    return f"budget_spend{{{selector}}} - ({expected_spend(selector)})"


def table_queries(columns: Iterable[tuple[str, str]]) -> list[Any]:
    """Instant table queries with fixed refIds, one per (refId, expression) column."""
    return [q(expr, instant=True, table_format=True).ref_id(ref) for ref, expr in columns]


def with_queries(panel: Any, queries: Iterable[Any]) -> Any:
    for query in queries:
        panel = panel.with_target(query)
    return panel.datasource(DS)


# --------------------------------------------------------------------------- thresholds


def steps(*pairs: tuple[float | None, str]) -> Any:
    """Absolute thresholds: the first pair's value is None (the base colour)."""
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=value, color=color) for value, color in pairs])
    )


def utilization_steps() -> Any:
    """Utilization coloured at the exporter's default threshold of each severity."""
    return steps((None, GREEN), *((t.default_ratio, t.colour) for t in THRESHOLD_SEVERITIES))


def anomaly_steps() -> Any:
    """Anomaly scores: orange from the score that alerts, red when far beyond it."""
    return steps((None, GREEN), (ANOMALY_SCORE, ORANGE), (6, RED))


def overrun_steps() -> Any:
    """Overrun probability: orange at even odds, red from the probability that alerts."""
    return steps((None, GREEN), (0.5, ORANGE), (FORECAST_OVERRUN_PROBABILITY, RED))


def days_left_steps() -> Any:
    """Days until a budget runs out: red within a week, orange within a month."""
    return steps((None, RED), (7, ORANGE), (30, GREEN))


# --------------------------------------------------------------------------- panels


def _sized(panel: Any, title: str, description: str, unit: str, w: int, h: int) -> Any:
    """The shape every panel shares: title, description, unit and grid size."""
    return panel.title(title).description(description).unit(unit).span(w).height(h)


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
        _sized(stat.Panel(), title, description, unit, w, h)
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
    bars_every: str | None = None,
) -> Any:
    """A time series; with ``bars_every`` (say 1d) one bar per step of that length."""
    panel = (
        _sized(timeseries.Panel(), title, description, unit, w, h)
        .line_width(2)
        .fill_opacity(80 if bars_every else 0)
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
    if bars_every is not None:
        panel = panel.draw_style(cm.GraphDrawStyle.BARS).interval(bars_every)
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
        _sized(bargauge.Panel(), title, description, unit, w, h)
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


def gauge_panel(
    title: str,
    description: str,
    unit: str,
    w: int,
    h: int,
    min_val: float,
    max_val: float,
    thresholds: Any,
) -> Any:
    """A gauge with its threshold markers; its queries are the caller's."""
    return (
        _sized(gauge.Panel(), title, description, unit, w, h)
        .min(min_val)
        .max(max_val)
        .reduce_options(reduce_last())
        .show_threshold_markers(True)
        .thresholds(thresholds)
    )


def table_panel(title: str, description: str, unit: str, w: int, h: int) -> Any:
    """A table; its queries, transformations and column overrides are the caller's."""
    return _sized(table.Panel(), title, description, unit, w, h)


def transformation(kind: str, **options: Any) -> Any:
    """A Grafana transformation (merge, organize, rowsToFields, ...)."""
    return dm.DataTransformerConfig(id_val=kind, options=options)


def override(prop: str, value: Any) -> Any:
    """One property of a field override."""
    return dm.DynamicConfigValue(id_val=prop, value=value)


def up_mapping(down: str, up: str) -> list[Any]:
    """Value mapping of a 0/1 health series to red and green words."""
    return [
        dm.ValueMap(
            options={
                "0": dm.ValueMappingResult(text=down, color=RED, index=0),
                "1": dm.ValueMappingResult(text=up, color=GREEN, index=1),
            }
        )
    ]


# --------------------------------------------------------------------------- dashboards


def dashboard(board: Dashboard, description: str, time_from: str) -> Any:
    """A dashboard with the datasource variable and the menu linking every budget dashboard."""
    return (
        db.Dashboard(board.title)
        .uid(board.uid)
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
    """A query variable listing the values of one label of a metric."""
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
