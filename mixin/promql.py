"""PromQL that rules and dashboards share to read what the exporter sends only when it differs.

A budget's data-as-of time, expected spend and thresholds go out per budget only where they
are not already in other series (README, "Series per budget"); these expressions give them for
every budget. ``selector`` is a label matcher such as ``budget="$budget"``, or empty.
"""

from __future__ import annotations

import textwrap

from mixin.severities import NAMES


def sel(metric: str, selector: str = "") -> str:
    """``metric{selector}``, or the bare name without a selector."""
    return f"{metric}{{{selector}}}" if selector else metric


def _inside(expr: str, by: int = 2) -> str:
    return textwrap.indent(expr, " " * by)


def data_as_of(selector: str = "") -> str:
    """End of the newest cost data of each budget: its own series, or its provider's."""
    return (
        f"{sel('budget_data_as_of_timestamp_seconds', selector)}\n"
        "or on(budget, job, instance)\n"
        "max without(period, provider, parent) (\n"
        f"  {sel('budget_info', selector)} * on(provider, job, instance) group_left()\n"
        "  budget_exporter_provider_data_newest_timestamp_seconds\n"
        ")"
    )


def elapsed_at_data(selector: str = "") -> str:
    """Share of the period gone at the newest cost data, 0 to 1."""
    start = sel("budget_period_start_timestamp_seconds", selector)
    end = sel("budget_period_end_timestamp_seconds", selector)
    return (
        "clamp(\n"
        f"  (\n    (\n{_inside(data_as_of(selector), 6)}\n    )\n    - {start}\n  )\n"
        f"  / ({end} - {start}),\n"
        "  0, 1\n"
        ")"
    )


def expected_spend(selector: str = "") -> str:
    """Spend expected by the newest data: the exporter's figure where a budget has purchases
    or fees counted at once, else the limit spread evenly over the period."""
    return (
        f"{sel('budget_expected_spend', selector)}\n"
        "or on(budget, job, instance)\n"
        f"{sel('budget_limit', selector)}\n"
        # group_left keeps the limit's labels (team...): one-to-one on() would drop them.
        "* on(budget, job, instance) group_left()\n"
        f"{elapsed_at_data(selector)}"
    )


def own_thresholds_against(selector: str, op: str, utilization: str, scale: str = "") -> str:
    """The budgets' own thresholds compared (``op``) with their utilization."""
    return (
        f"{scale}{sel('budget_alert_threshold_ratio', selector)}\n"
        f"  {op} ignoring(severity) group_left()\n"
        f"{scale}{utilization}"
    )


def default_threshold_against(severity: str, op: str, utilization: str, scale: str = "") -> str:
    """The shared threshold of one severity compared (``op``) with the utilization of every
    budget without thresholds of its own; the result carries the budget's labels, severity
    and the threshold's value.

    One severity at a time: PromQL pairs each budget with one shared series (group_right
    needs the shared side unique per job and instance), never with a set of them.
    """
    return (
        f'{scale}budget_default_alert_threshold_ratio{{severity="{severity}"}}\n'
        f"  {op} on(job, instance) group_right(severity)\n"
        f"{scale}({utilization}\n"
        "  unless on(budget, job, instance) budget_alert_threshold_ratio)"
    )


def thresholds_reached(selector: str = "") -> str:
    """1 per threshold of each budget reached, 0 per one not (budget_threshold_reached)."""
    utilization = sel("budget_utilization_ratio", selector)
    parts = [own_thresholds_against(selector, "<= bool", utilization)] + [
        default_threshold_against(name, "<= bool", utilization) for name in NAMES
    ]
    return "\n  or\n".join(f"({part})" for part in parts)


def one_budget_thresholds(selector: str, severity: str = "") -> str:
    """The thresholds of the one budget ``selector`` picks (of one ``severity``, or all): its
    own, or else the shared ones. One budget is one series per job and instance, so the
    shared set joins it whole."""
    only = f'severity="{severity}"' if severity else ""
    own = sel("budget_alert_threshold_ratio", ", ".join(filter(None, (selector, only))))
    return (
        f"{own}\n"
        "  or\n"
        f"{sel('budget_default_alert_threshold_ratio', only)}\n"
        "  * on(job, instance) group_left(budget)\n"
        f"  (max by (job, instance, budget) (budget_info{{{selector}}})\n"
        f"    unless on(budget) budget_alert_threshold_ratio{{{selector}}})"
    )
