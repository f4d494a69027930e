"""Budgets / Error budgets: what is left of each SLO's budget and how fast it burns.

The burn-rate panels draw the factors of mixin.slo's windows, the same rows the alerts of
rules/groups/slo.py fire on.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard as db

from grafana.builders.panels import (
    bar_panel,
    dashboard,
    days_left_steps,
    label_variable,
    override,
    q,
    series_panel,
    stat_panel,
    steps,
)
from mixin.colours import GREEN, ORANGE, RED, YELLOW
from mixin.dashboards import ERROR_BUDGETS
from mixin.durations import hours
from mixin.slo import EXHAUSTION_LIKELY_PROBABILITY, RESPONSE, SLO_BURN_WINDOWS, windows_of

SLO = 'slo=~"$slo", team=~"$team"'

#: How each severity's windows read on the dashboard.
SPEED = {"critical": "fast", "warning": "slow"}


def build() -> Any:
    """The dashboard."""
    d = dashboard(
        ERROR_BUDGETS,
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
    d = budget_left(d)
    d = burn_rate(d)
    d = where_it_went(d)
    return analytics(d)


def budget_left(d: Any) -> Any:
    """Row of what is left, the objective, and when the budget runs out."""
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
            thresholds=days_left_steps(),
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
    return d


def burn_rate(d: Any) -> Any:
    """Row of the burn rates against the alert factors of mixin.slo."""
    d = d.with_row(db.Row("Burn rate"))
    d = d.with_panel(
        bar_panel(
            "Alert pairs against their factors",
            "For each multiwindow pair, the lower of its two burn rates divided by the pair's "
            f"alert factor ({_factors_by_response()}). At 100% both windows exceed the factor "
            "and the alert condition holds.",
            [
                q(
                    " or ".join(
                        f'slo:burn_rate:min_pair{{{SLO}, long="{w.long}"}} / {w.factor:g}'
                        for w in SLO_BURN_WINDOWS
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
    factors = sorted((w.factor, w.colour) for w in SLO_BURN_WINDOWS)
    factor_steps = steps((None, GREEN), *factors)
    factor_list = ", ".join(f"{f:g}" for f, _ in factors[:-1]) + f" and {factors[-1][0]:g}"
    shown: set[str] = set()
    for severity, response in RESPONSE.items():
        rows = windows_of(severity)
        # Each window is drawn once: a window that two severities share stays in the first panel.
        windows = sorted({w for row in rows for w in (row.short, row.long)} - shown, key=hours)
        shown |= set(windows)
        pairs = ", or ".join(f"{w.long} and {w.short} both exceed {w.factor:g}" for w in rows)
        d = d.with_panel(
            series_panel(
                f"{response.capitalize()}: {SPEED[severity]} burn windows",
                "Bad time over the window divided by the error budget's even share of it "
                "(1 = budget used exactly by the end of the window). "
                f"{response.capitalize()}s when {pairs}. The dashed lines are the alert factors "
                f"{factor_list}.",
                [
                    q(
                        f'slo_burn_rate{{{SLO}, window=~"{"|".join(windows)}"}}',
                        "{{slo}} {{window}}",
                    )
                ],
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
    return d


def where_it_went(d: Any) -> Any:
    """Row of consumption by incident category and the incidents behind it."""
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


def analytics(d: Any) -> Any:
    """Row of the statistics of daily bad time: advice, daily burn, unusual days, weekday, trend."""
    d = d.with_row(db.Row("Analytics"))
    d = d.with_panel(
        stat_panel(
            "Advice",
            "The highest exhaustion probability over the horizons, named by the advice it "
            "gives: ok below 10%, watch below 50% (review risky changes), act from "
            f"{EXHAUSTION_LIKELY_PROBABILITY:.0%} (reliability first; "
            "SLOErrorBudgetExhaustionLikely tickets it).",
            [
                q(
                    f"max without(horizon) (slo_error_budget_exhaustion_probability{{{SLO}}})\n"
                    f"* on(slo, job, instance) group_left(advice) "
                    f"slo_error_budget_advice{{{SLO}}}",
                    "{{slo}}: {{advice}}",
                    instant=True,
                )
            ],
            "percentunit",
            w=6,
            h=6,
            thresholds=steps((None, GREEN), (0.1, YELLOW), (EXHAUSTION_LIKELY_PROBABILITY, RED)),
        )
    )
    d = d.with_panel(
        bar_panel(
            "Daily burn rate",
            "Mean and 95th percentile of the burn rates of the window's complete local days "
            "(a day's bad time over its even share of the budget): a p95 far above the mean "
            "means a few bad days spend the budget.",
            [
                q(f"slo_daily_burn_rate_mean{{{SLO}}}", "{{slo}} mean", instant=True),
                q(f"slo_daily_burn_rate_p95{{{SLO}}}", "{{slo}} p95", instant=True),
            ],
            "none",
            w=6,
            h=6,
            thresholds=steps((None, GREEN), (1.0, RED)),
        )
    )
    d = d.with_panel(
        stat_panel(
            "Unusual burn days",
            "Complete days of the window whose bad time is more than 3 standard deviations "
            "above the daily mean; budget-exporter report --slo NAME lists them.",
            [q(f"slo_burn_anomalies{{{SLO}}}", "{{slo}}", instant=True)],
            "none",
            w=4,
            h=6,
            thresholds=steps((None, GREEN), (1, ORANGE)),
        )
    )
    d = d.with_panel(
        bar_panel(
            "Burn rate by weekday",
            "Mean burn rate of each weekday over the window's complete days (two weeks at "
            "least): deployment days and batch nights stand out. Needs series: "
            "{weekday_pattern: true} in the exporter config.",
            [q(f"slo_weekday_burn_rate{{{SLO}}}", "{{slo}} {{weekday}}", instant=True)],
            "none",
            w=8,
            h=6,
            thresholds=steps((None, GREEN), (1.0, RED)),
        )
    )
    d = d.with_panel(
        stat_panel(
            "Trend of daily bad time",
            "Change of the daily bad time per day over the window (least-squares slope), and "
            "the probability of such a slope without a trend: below 0.05 it is significant. "
            "Needs series: {trend: true} in the exporter config.",
            [
                q(
                    f"slo_daily_consumption_trend_seconds{{{SLO}}}",
                    "{{slo}} change per day",
                    instant=True,
                ),
                q(f"slo_daily_consumption_trend_p_value{{{SLO}}}", "{{slo}} p-value", instant=True),
            ],
            "s",
            w=8,
            h=6,
        ).override_by_regexp(".* p-value", [override("unit", "none")])
    )
    return d


def _factors_by_response() -> str:
    """Each pair with its factor, grouped by what the alert asks: 1h & 5m: 14.4, ... page; ..."""
    return "; ".join(
        ", ".join(f"{w.long} & {w.short}: {w.factor:g}" for w in windows_of(severity))
        + f" {response}"
        for severity, response in RESPONSE.items()
    )
