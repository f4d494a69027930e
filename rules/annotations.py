"""Annotation templates, their formatting vocabulary, and the alerting-rule builder.

One vocabulary for every figure, here and in alertmanager/templates/: money with thousands
separators, two decimals and the currency (``1,234.50 USD``); percentages with at most one
decimal, ``<0.1%`` and ``>99.9%`` at the ends; rates as ``3.5x``; durations humanized
(``2d 3h``); times as ``2026-12-13 17:12 UTC``. Templates print with ``printf "%.Nf"``, never
``%g`` or ``humanize``, so no figure reads in scientific notation.

Cost: an alert's description reads ``$value`` and its labels; its facts come from one query,
a union of ``label_replace`` selections tagged with a ``fact`` label, scoped to the alert's
own ``job`` and ``instance`` (two exporter replicas never mix). Arithmetic (percent, seconds
left) happens in that query, since templates have none. Each figure appears once: the
description says why the alert fired, the facts line by line say where the budget stands.
"""

from __future__ import annotations

from typing import Any

from mixin.dashboards import BUDGET_DETAIL, ERROR_BUDGETS, EXPORTER_HEALTH
from mixin.severities import DATA_KEEP_FIRING_FOR
from mixin.slo import SLO_BURN_WINDOWS

# Links: runbooks are sections of docs/runbooks.md (anchor = alert name in lower case); each
# alert also links the Grafana dashboard that shows its budget, SLO or provider.
# Defaults fit the shipped stack (Grafana of docker-compose.yml); for your own, generate a copy
# with --grafana-url and --runbook-url (see docs/alerting.md).
RUNBOOK_BASE = "https://github.com/budget-exporter/budget-exporter/blob/main/docs/runbooks.md"
GRAFANA_BASE = "http://localhost:3000"
DASHBOARDS = {
    "money": BUDGET_DETAIL.path("budget", "{{ $labels.budget }}"),
    "error_budget": ERROR_BUDGETS.path("slo", "{{ $labels.slo }}"),
    "exporter": EXPORTER_HEALTH.path("job", "{{ $labels.job }}"),
}

# ----------------------------------------------------------------------- formatting vocabulary

# Go's regexp has no look-ahead: each pass puts one comma into every run of four digits before
# a point or the end, so five passes cover numbers up to 10^18.
_GROUP = " | reReplaceAll `(\\d)(\\d{3})([,.]|$)` `$1,$2$3`" * 5
_TRIM_ZERO = " | reReplaceAll `\\.0$` ``"


def money(value: str, currency: str) -> str:
    """``1,234.50 USD``: ``value`` and ``currency`` are template expressions."""
    return '{{ printf "%.2f" ' + value + _GROUP + " }} {{ " + currency + " }}"


def amount(value: str) -> str:
    """A money figure without its currency: ``1,234.50``."""
    return '{{ printf "%.2f" ' + value + _GROUP + " }}"


def percent(value: str) -> str:
    """``12.5%`` from a value already in percent; ``<0.1%`` and ``>99.9%`` at the ends."""
    return (
        "{{ if and (gt " + value + " 0.0) (lt " + value + " 0.1) }}<0.1%"
        "{{ else if and (gt " + value + " 99.9) (lt " + value + " 100.0) }}>99.9%"
        '{{ else }}{{ printf "%.1f" ' + value + _TRIM_ZERO + _GROUP + " }}%{{ end }}"
    )


def times(value: str) -> str:
    """A burn rate: ``3.5x``."""
    return '{{ printf "%.1f" ' + value + _TRIM_ZERO + _GROUP + " }}x"


def duration(value: str) -> str:
    """``2d 3h 4m`` from seconds, trailing zero units dropped."""
    return "{{ " + value + " | humanizeDuration | reReplaceAll `( 0[hms])+$` `` }}"


def moment(value: str) -> str:
    """``2026-12-13 17:12 UTC`` from a Unix time."""
    return "{{ (" + value + ' | toTime).Format "2006-01-02 15:04 MST" }}'


# --------------------------------------------------------------------------- the facts query

SCOPE = "job=%q,instance=%q"
SCOPE_ARGS = "$labels.job $labels.instance"


def facts_query(subject: str, facts: dict[str, str]) -> str:
    """One PromQL union of the ``facts`` (name -> expression with ``{SEL}``), each tagged.

    ``{SEL}`` becomes the subject's selector (``budget=%q`` or ``slo=%q``) and the scope.
    """
    selector = subject + "=%q," + SCOPE
    parts = [
        f'label_replace({expression.replace("{SEL}", selector)}, "fact", "{name}", "", "")'
        for name, expression in facts.items()
    ]
    return " or ".join(parts)


def with_facts(subject_label: str, facts: dict[str, str], body: str) -> str:
    """A template that runs the facts query once, binds ``$<fact>`` variables, then ``body``.

    Each fact is bound to its value (or -1 when absent, with ``$has_<fact>`` false); a fact
    whose series vary by one label (the burn rate's window) is read in ``body`` by ranging
    over ``$rows``.
    """
    subject = subject_label.removeprefix("$labels.")
    query = facts_query(subject, facts)
    count = query.count("%q")
    args = " ".join([subject_label, SCOPE_ARGS] * (count // 3))
    bind = "".join("{{ $" + name + " := -1.0 }}{{ $has_" + name + " := false }}" for name in facts)
    assign = "".join(
        '{{ if eq .Labels.fact "' + name + '" }}{{ $' + name + " = .Value }}{{ $has_" + name
        + " = true }}{{ end }}"
        for name in facts
    )  # fmt: skip
    return (
        bind
        + '{{ $currency := "" }}{{ $period := "" }}'
        + "{{ $rows := printf `"
        + query
        + "` "
        + args
        + " | query }}"
        + "{{ range $rows }}"
        + assign
        + "{{ with .Labels.currency }}{{ $currency = . }}{{ end }}"
        + "{{ with .Labels.period }}{{ $period = . }}{{ end }}"
        + "{{ end }}"
        + body
    )


# ------------------------------------------------------------------------------ money facts

MONEY_QUERY = {
    "spent": "budget_spend{{SEL}}",
    "limit": "budget_limit{{SEL}}",
    "used": "100 * budget_utilization_ratio{{SEL}}",
    "remaining": "budget_remaining{{SEL}}",
    "over": "-budget_remaining{{SEL}}",
    "info": "budget_info{{SEL}}",
    "burn": "budget_burn_rate{{SEL}}",
    "mean": 'max without(method, bound) (budget_forecast_spend{bound="mean",{SEL}})',
    "low": 'max without(method, bound) (budget_forecast_spend{bound="lower_80",{SEL}})',
    "high": 'max without(method, bound) (budget_forecast_spend{bound="upper_80",{SEL}})',
    "overrun": "100 * max without(method) (budget_forecast_overrun_probability{{SEL}})",
    "pace": 'budget_projected_exhaustion_timestamp_seconds{method="pace",{SEL}}',
    "pace_in": 'budget_projected_exhaustion_timestamp_seconds{method="pace",{SEL}} - time()',
    "fc": 'budget_projected_exhaustion_timestamp_seconds{method="forecast",{SEL}}',
    "end": "budget_period_end_timestamp_seconds{{SEL}}",
}
BURN_WINDOWS = ("period", "1d", "7d")
_BURN = (
    '{{ range $rows }}{{ if and (eq .Labels.fact "burn") (eq .Labels.window "period") }}'
    + times(".Value")
    + " over the period{{ end }}{{ end }}"
    + "".join(
        '{{ range $rows }}{{ if and (eq .Labels.fact "burn") (eq .Labels.window "'
        + window
        + '") }}, '
        + times(".Value")
        + f" over {window}{{{{ end }}}}{{{{ end }}}}"
        for window in BURN_WINDOWS[1:]
    )
)


def lines(*rows: tuple[str, str]) -> str:
    """Rows of (condition, text), each printed on its own line when its condition holds.

    The newline goes before every printed row but the first, so no row leaves an empty line.
    """
    return '{{ $nl := "" }}' + "".join(
        "{{ if " + condition + " }}{{ $nl }}" + text + '{{ $nl = "\\n" }}{{ end }}'
        for condition, text in rows
    )


MONEY_LINES = lines(
    (
        "$has_spent",
        "Spent: "
        + money("$spent", "$currency")
        + " of "
        + money("$limit", "$currency")
        + " ("
        + percent("$used")
        + "){{ with $period }} this {{ . }} period{{ end }}",
    ),
    ("and $has_remaining (lt $remaining 0.0)", "Over the limit by: " + money("$over", "$currency")),
    ("and $has_remaining (ge $remaining 0.0)", "Remaining: " + money("$remaining", "$currency")),
    ("$has_burn", "Burn rate: " + _BURN),
    (
        "$has_mean",
        "Forecast: "
        + money("$mean", "$currency")
        + " by period end (80% range "
        + amount("$low")
        + " to "
        + amount("$high")
        + "), "
        + percent("$overrun")
        + " likely over the limit",
    ),
    # Both projections with what each means; the alert that fires on one says which.
    ("and $has_pace_in (le $pace_in 0.0)", "Limit reached: " + moment("$pace")),
    (
        "and $has_pace (gt $pace_in 0.0)",
        "At the pace so far (period-to-date spend per day, continued): runs out " + moment("$pace"),
    ),
    (
        "and $has_fc (not (and $has_pace_in (le $pace_in 0.0)))",
        "By the forecast (its expected path to period end): runs out " + moment("$fc"),
    ),
    ("$has_end", "Period ends: " + moment("$end")),
)
MONEY_FACTS = with_facts("$labels.budget", MONEY_QUERY, MONEY_LINES)

# -------------------------------------------------------------------------------- SLO facts

SLO_QUERY = {
    "objective": "100 * slo_objective_ratio{{SEL}}",
    "budget": "slo_error_budget_seconds{{SEL}}",
    "consumed": "slo_error_budget_consumed_seconds{{SEL}}",
    "used": "100 * (1 - slo_error_budget_remaining_ratio{{SEL}})",
    "left": "slo_error_budget_remaining_seconds{{SEL}}",
    "burn": "slo_burn_rate{{SEL}}",
    "rate_in": 'round(slo_error_budget_projected_exhaustion_timestamp_seconds{method="burn_rate",'
    "{SEL}} - time(), 60)",
    "trend_in": "round(slo_error_budget_projected_exhaustion_timestamp_seconds"
    '{method="linear_regression",{SEL}} - time(), 60)',
    "average_in": "round(slo_error_budget_projected_exhaustion_timestamp_seconds"
    '{method="average",{SEL}} - time(), 60)',
    "chance": "100 * topk(1, slo_error_budget_exhaustion_probability{{SEL}})",
    "open": "slo_open_incidents{{SEL}}",
}
SLO_WINDOWS = tuple(row.long for row in SLO_BURN_WINDOWS)


def _slo_projection(name: str, meaning: str) -> str:
    return (
        "{{ if $has_" + name + " }}{{ if $sep }}; {{ else }}: {{ end }}{{ $sep = true }}"
        "{{ if le $"
        + name
        + " 0.0 }}ran out{{ else }}in "
        + duration("$" + name)
        + "{{ end }} "
        + meaning
        + "{{ end }}"
    )


SLO_LINES = lines(
    (
        "$has_budget",
        "Error budget: "
        + duration("$consumed")
        + " of "
        + duration("$budget")
        + " used ("
        + percent("$used")
        + ") against an objective of "
        + percent("$objective"),
    ),
    (
        "$has_burn",
        "Burn rate: {{ $first := true }}"
        + "".join(
            '{{ range $rows }}{{ if and (eq .Labels.fact "burn") (eq .Labels.window "'
            + window
            + '") }}{{ if not $first }}, {{ end }}{{ $first = false }}'
            + times(".Value")
            + f" over {window}{{{{ end }}}}{{{{ end }}}}"
            for window in SLO_WINDOWS
        ),
    ),
    (
        "or $has_rate_in $has_trend_in $has_average_in",
        "Runs out{{ $sep := false }}"
        + _slo_projection("rate_in", "at the last hour's rate")
        + _slo_projection("trend_in", "on the daily trend")
        + _slo_projection("average_in", "at the window's average"),
    ),
    (
        "$has_chance",
        "Chance to run out within "
        + '{{ range $rows }}{{ if eq .Labels.fact "chance" }}{{ .Labels.horizon }}{{ end }}'
        + "{{ end }}: "
        + percent("$chance")
        + "{{ if gt $open 0.0 }}, counting the incident open now{{ end }}",
    ),
)
SLO_FACTS = with_facts("$labels.slo", SLO_QUERY, SLO_LINES)


def links(alert: str, kind: str) -> dict[str, str]:
    """The runbook and dashboard annotations of an alert."""
    return {
        "runbook_url": f"{RUNBOOK_BASE}#{alert.lower()}",
        "dashboard_url": GRAFANA_BASE + DASHBOARDS[kind],
    }


def alert(
    name: str,
    expr: str,
    for_: str,
    labels: dict[str, str],
    summary: str,
    description: str,
    facts: str | None = None,
    extra: dict[str, str] | None = None,
    keep_firing_for: str | None = DATA_KEEP_FIRING_FOR,
) -> dict[str, Any]:
    """An alerting rule with the project's labels and annotations.

    Alerts hold ``keep_firing_for`` after their expression stops returning, so a scrape
    outage or an exporter restart neither resolves them nor, once back, fires them anew.
    """
    annotations = {"summary": summary, "description": description}
    if facts is not None:
        annotations["facts"] = facts
    annotations.update(extra or {})
    annotations.update(links(name, labels["kind"]))
    rule: dict[str, Any] = {"alert": name, "expr": expr.strip() + "\n", "for": for_}
    if keep_firing_for:
        rule["keep_firing_for"] = keep_firing_for
    rule["labels"] = labels
    rule["annotations"] = annotations
    return rule


# A group is (name, comment, rules) and each rule is (comment, rule).
Group = tuple[str, str, list[tuple[str, dict[str, Any]]]]
