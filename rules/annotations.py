"""Annotation templates, their formatting vocabulary, and the alerting-rule builder.

One vocabulary for every figure, here and in alertmanager/templates/: money with thousands
separators, two decimals and the currency (``1,234.50 USD``); percentages with at most one
decimal, ``<0.1%`` and ``>99.9%`` at the ends; rates as ``3.5x``; durations humanized
(``2d 3h``); times as ``2026-12-13 17:12 UTC``. Templates print with ``printf "%.Nf"``, never
``%g`` or ``humanize``, so no figure reads in scientific notation.

Cost: an alert's description reads ``$value`` and its labels; its facts come from one query
of one selector: the facts' metrics by name, the budget or SLO, and the alert's own ``job``
and ``instance`` (two exporter replicas never mix). Prometheus expands the annotations of
every active alert at every evaluation: at 10,000 budgets the facts are most of rule
evaluation, a third of that the query and the rest the template itself (bench/README.md;
``rules/generate.py --no-facts`` leaves them out). Templates have no arithmetic, so ratios
print as percent by moving the point as text, and what needs ``time()`` (an SLO's time left)
comes from recording rules. Each figure appears once: the description says why the alert
fired, the facts line by line say where the budget stands.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def ratio_percent(value: str) -> str:
    """``12.5%`` from a ratio (0.125), with ``<0.1%`` and ``>99.9%`` at the ends.

    Templates cannot multiply: ``%.3f`` rounds the ratio to a tenth of a percent, then the
    point moves two digits right as text and leading zeros go.
    """
    return (
        "{{ if and (gt " + value + " 0.0) (lt " + value + " 0.001) }}<0.1%"
        "{{ else if and (gt " + value + " 0.999) (lt " + value + " 1.0) }}>99.9%"
        '{{ else }}{{ printf "%.3f" ' + value
        + " | reReplaceAll `^(-?)(\\d+)\\.(\\d)(\\d)(\\d)$` `${1}${2}${3}${4}.${5}`"
        " | reReplaceAll `^(-?)0+(\\d)` `${1}${2}`"
        + _TRIM_ZERO + _GROUP + " }}%{{ end }}"
    )  # fmt: skip


def magnitude(value: str, currency: str) -> str:
    """A negative money figure without its sign: how far over (``1,234.50 USD``)."""
    return (
        '{{ printf "%.2f" '
        + value
        + " | reReplaceAll `^-` ``"
        + _GROUP
        + " }} {{ "
        + currency
        + " }}"
    )


# --------------------------------------------------------------------------- the facts query

SCOPE = "job=%q,instance=%q"
SCOPE_ARGS = "$labels.job $labels.instance"


@dataclass(frozen=True)
class Fact:
    """A figure an annotation reads: a series of ``metric`` whose labels equal ``where``.

    ``largest`` keeps the largest of several matching series (the highest exhaustion
    probability over the horizons); otherwise the last one read wins, and a fact whose series
    vary by a label the body prints (the burn rate's window) is read by ranging over ``$rows``
    with :func:`named`.
    """

    metric: str
    where: tuple[tuple[str, str], ...] = ()
    largest: bool = False


def fact(metric: str, largest: bool = False, **where: str) -> Fact:
    return Fact(metric, tuple(sorted(where.items())), largest)


def named(metric: str) -> str:
    """A template condition: the row in range is a series of ``metric``."""
    return '(eq .Labels.__name__ "' + metric + '")'


def facts_query(subject: str, facts: dict[str, Fact]) -> str:
    """One selector for every fact: the metrics by name, the subject, the alert's scope.

    One selector is one index lookup (the subject's few series) however many facts there
    are; a union of one selector per fact costs each of them again for every active alert.
    """
    names = "|".join(sorted({f.metric for f in facts.values()}))
    return '{__name__=~"' + names + '",' + subject + "=%q," + SCOPE + "}"


def _assign(name: str, spec: Fact) -> str:
    conditions = [named(spec.metric)] + [
        "(eq .Labels." + k + ' "' + v + '")' for k, v in spec.where
    ]
    if spec.largest:
        conditions.append("(gt .Value $" + name + ")")
    test = conditions[0] if len(conditions) == 1 else "and " + " ".join(conditions)
    return (
        "{{ if " + test + " }}{{ $" + name + " = .Value }}{{ $has_" + name + " = true }}{{ end }}"
    )


def with_facts(subject_label: str, facts: dict[str, Fact], body: str) -> str:
    """A template that runs the facts query once, binds ``$<fact>`` variables, then ``body``.

    Each fact is bound to its value (or -1 when absent, with ``$has_<fact>`` false);
    ``$currency`` and ``$period`` come from whichever series carries them.
    """
    subject = subject_label.removeprefix("$labels.")
    bind = "".join("{{ $" + name + " := -1.0 }}{{ $has_" + name + " := false }}" for name in facts)
    return (
        bind
        + '{{ $currency := "" }}{{ $period := "" }}'
        + "{{ $rows := printf `"
        + facts_query(subject, facts)
        + "` "
        + subject_label
        + " "
        + SCOPE_ARGS
        + " | query }}"
        + "{{ range $rows }}"
        + "".join(_assign(name, spec) for name, spec in facts.items())
        + "{{ with .Labels.currency }}{{ $currency = . }}{{ end }}"
        + "{{ with .Labels.period }}{{ $period = . }}{{ end }}"
        + "{{ end }}"
        + body
    )


# ------------------------------------------------------------------------------ money facts

MONEY_QUERY = {
    "spent": fact("budget_spend"),
    "limit": fact("budget_limit"),
    "used": fact("budget_utilization_ratio"),
    "remaining": fact("budget_remaining"),
    "info": fact("budget_info"),
    "burn": fact("budget_burn_rate"),
    "mean": fact("budget_forecast_spend", bound="mean"),
    "low": fact("budget_forecast_spend", bound="lower_80"),
    "high": fact("budget_forecast_spend", bound="upper_80"),
    "overrun": fact("budget_forecast_overrun_probability"),
    "pace": fact("budget_projected_exhaustion_timestamp_seconds", method="pace"),
    "fc": fact("budget_projected_exhaustion_timestamp_seconds", method="forecast"),
    "end": fact("budget_period_end_timestamp_seconds"),
}
BURN_WINDOWS = ("period", "1d", "7d")
_BURN_ROW = "and " + named("budget_burn_rate") + ' (eq .Labels.window "'
_BURN = (
    "{{ range $rows }}{{ if "
    + _BURN_ROW
    + 'period") }}'
    + times(".Value")
    + " over the period{{ end }}{{ end }}"
    + "".join(
        "{{ range $rows }}{{ if "
        + _BURN_ROW
        + window
        + '") }}, '
        + times(".Value")
        + f" over {window}{{{{ end }}}}{{{{ end }}}}"
        for window in BURN_WINDOWS[1:]
    )
)
# Spend at or past the limit: the exporter's pace projection is then the moment it crossed.
_REACHED = "(and $has_remaining (le $remaining 0.0))"


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
        + ratio_percent("$used")
        + "){{ with $period }} this {{ . }} period{{ end }}",
    ),
    (
        "and $has_remaining (lt $remaining 0.0)",
        "Over the limit by: " + magnitude("$remaining", "$currency"),
    ),
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
        + ratio_percent("$overrun")
        + " likely over the limit",
    ),
    # Both projections with what each means; the alert that fires on one says which.
    ("and $has_pace " + _REACHED, "Limit reached: " + moment("$pace")),
    (
        "and $has_pace (not " + _REACHED + ")",
        "At the pace so far (period-to-date spend per day, continued): runs out " + moment("$pace"),
    ),
    (
        "and $has_fc (not " + _REACHED + ")",
        "By the forecast (its expected path to period end): runs out " + moment("$fc"),
    ),
    ("$has_end", "Period ends: " + moment("$end")),
)
MONEY_FACTS = with_facts("$labels.budget", MONEY_QUERY, MONEY_LINES)

# -------------------------------------------------------------------------------- SLO facts

# Templates have no arithmetic: the share used and the time left per projection come from the
# recording rules of rules/groups/slo.py, which keep the SLO's job and instance.
SLO_QUERY = {
    "objective": fact("slo_objective_ratio"),
    "budget": fact("slo_error_budget_seconds"),
    "consumed": fact("slo_error_budget_consumed_seconds"),
    "used": fact("slo:error_budget_used:ratio"),
    "burn": fact("slo_burn_rate"),
    "rate_in": fact("slo:error_budget_exhaustion_in:seconds", method="burn_rate"),
    "trend_in": fact("slo:error_budget_exhaustion_in:seconds", method="linear_regression"),
    "average_in": fact("slo:error_budget_exhaustion_in:seconds", method="average"),
    "chance": fact("slo_error_budget_exhaustion_probability", largest=True),
    "open": fact("slo_open_incidents"),
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


_CHANCE_ROW = "and " + named("slo_error_budget_exhaustion_probability") + " (eq .Value $chance)"
SLO_LINES = lines(
    (
        "$has_budget",
        "Error budget: "
        + duration("$consumed")
        + " of "
        + duration("$budget")
        + " used ("
        + ratio_percent("$used")
        + ") against an objective of "
        + ratio_percent("$objective"),
    ),
    (
        "$has_burn",
        "Burn rate: {{ $first := true }}"
        + "".join(
            "{{ range $rows }}{{ if and "
            + named("slo_burn_rate")
            + ' (eq .Labels.window "'
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
        "Chance to run out within {{ $horizon := false }}{{ range $rows }}{{ if "
        + _CHANCE_ROW
        + " }}{{ if not $horizon }}{{ .Labels.horizon }}{{ $horizon = true }}{{ end }}{{ end }}"
        + "{{ end }}: "
        + ratio_percent("$chance")
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
