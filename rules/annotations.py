"""Annotation templates and the alerting-rule builder that every group of rules uses.

Annotations carry the numbers (spent, limit, %, burn rate, forecast, time to exhaustion) by
querying Prometheus when the alert is evaluated, so Alertmanager templates can lay them out
without querying anything.
"""

from __future__ import annotations

from typing import Any

from mixin.dashboards import BUDGET_DETAIL, ERROR_BUDGETS, EXPORTER_HEALTH
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

# Template snippets. `query` runs PromQL when the alert is evaluated; `with ... else` prints a
# fallback when the series is absent (for example before the forecast exists).


def first_value(query: str, args: str, fmt: str, missing: str = "n/a") -> str:
    """A template printing the first value of a query built with printf."""
    return (
        "{{ with printf `" + query + "` " + args + " | query }}"
        "{{ . | first | value | " + fmt + " }}{{ else }}" + missing + "{{ end }}"
    )


B = "$labels.budget"
S = "$labels.slo"
MONEY = 'printf "%.2f"'
TIMES = 'printf "%.2fx"'
PCT = "humanizePercentage"
SCOPE_SKIP = (
    "__name__|alertname|budget|slo|severity|kind|job|instance|long|short|window|method|currency|"
    "provider|type|dimension|value|horizon|service|sku"
)
SCOPE = (
    '{{ range $k, $v := $labels }}{{ if not (match "^(' + SCOPE_SKIP + ')$" $k) }}'
    " {{ $k }}={{ $v }}{{ end }}{{ end }}"
)


def money_amount(metric: str) -> str:
    """Amount with currency, e.g. ``2433.50 USD``."""
    return (
        "{{ with printf `" + metric + "{budget=%q}` " + B + " | query }}"
        '{{ . | first | value | printf "%.2f" }} {{ . | first | label "currency" }}'
        "{{ else }}n/a{{ end }}"
    )


MONEY_FACTS = {
    "spent": money_amount("budget_spend"),
    "limit": money_amount("budget_limit"),
    "utilization": first_value("budget_utilization_ratio{budget=%q}", B, PCT),
    "remaining": money_amount("budget_remaining"),
    "burn_rate": (
        first_value('budget_burn_rate{budget=%q,window="period"}', B, TIMES)
        + " over the period, "
        + first_value('budget_burn_rate{budget=%q,window="1d"}', B, TIMES)
        + " over 1d, "
        + first_value('budget_burn_rate{budget=%q,window="7d"}', B, TIMES)
        + " over 7d"
    ),
    "forecast": (
        '{{ with printf `budget_forecast_spend{budget=%q,bound="mean"}` '
        + B
        + ' | query }}{{ . | first | value | printf "%.2f" }} {{ . | first | label "currency" }} '
        + "expected by period end (80%: "
        + first_value('budget_forecast_spend{budget=%q,bound="lower_80"}', B, MONEY)
        + " to "
        + first_value('budget_forecast_spend{budget=%q,bound="upper_80"}', B, MONEY)
        + "), overrun probability "
        + first_value(
            "max without(method) (budget_forecast_overrun_probability{budget=%q})", B, PCT
        )
        + "{{ else }}not available{{ end }}"
    ),
    "exhaustion": (
        "{{ with printf `(min without(method) "
        "(budget_projected_exhaustion_timestamp_seconds{budget=%q}) - time()) / 86400` "
        + B
        + " | query }}{{ $days := . | first | value }}{{ if le $days 0.0 }}limit already "
        'reached{{ else }}in {{ printf "%.1f" $days }} days{{ end }}'
        "{{ else }}not projected this period{{ end }}"
    ),
}
PERIOD = (
    "{{ with printf `budget_info{budget=%q}` "
    + B
    + ' | query }}{{ . | first | label "period" }}{{ end }}'
)
MONEY_SENTENCE = (
    "Spent " + MONEY_FACTS["spent"] + " of " + MONEY_FACTS["limit"]
    + " (" + MONEY_FACTS["utilization"] + ") this " + PERIOD + " period, "
    + MONEY_FACTS["remaining"] + " remaining. Burn rate: " + MONEY_FACTS["burn_rate"]
    + ". Forecast: " + MONEY_FACTS["forecast"] + ". Exhaustion: " + MONEY_FACTS["exhaustion"]
    + ". Scope:" + SCOPE + "."
)  # fmt: skip

SLO_FACTS = {
    "spent": first_value("slo_error_budget_consumed_seconds{slo=%q} / 60", S, 'printf "%.1f min"'),
    "limit": first_value("slo_error_budget_seconds{slo=%q} / 60", S, 'printf "%.1f min"'),
    "utilization": first_value("1 - slo_error_budget_remaining_ratio{slo=%q}", S, PCT),
    "remaining": first_value("slo_error_budget_remaining_ratio{slo=%q}", S, PCT),
    "burn_rate": ", ".join(
        first_value('slo_burn_rate{slo=%q,window="' + w + '"}', S, TIMES) + " over " + w
        for w in (row.long for row in SLO_BURN_WINDOWS)
    ),
    "forecast": (
        "{{ with printf `topk(1, slo_error_budget_exhaustion_probability{slo=%q})` "
        + S
        + " | query }}{{ . | first | value | humanizePercentage }} chance to run out within "
        '{{ . | first | label "horizon" }}{{ else }}not available{{ end }}'
    ),
    "exhaustion": (
        "{{ with printf `(min without(method) "
        "(slo_error_budget_projected_exhaustion_timestamp_seconds{slo=%q}) - time()) / 86400` "
        + S
        + " | query }}{{ $days := . | first | value }}{{ if le $days 0.0 }}already exhausted"
        '{{ else }}in {{ printf "%.1f" $days }} days{{ end }}'
        "{{ else }}not projected{{ end }}"
    ),
}
OBJECTIVE = first_value("slo_objective_ratio{slo=%q}", S, PCT)
SLO_SENTENCE = (
    "Objective " + OBJECTIVE + "; error budget spent " + SLO_FACTS["spent"] + " of "
    + SLO_FACTS["limit"] + " (" + SLO_FACTS["utilization"] + "), "
    + SLO_FACTS["remaining"] + " remaining. Burn rate: " + SLO_FACTS["burn_rate"]
    + ". Forecast: " + SLO_FACTS["forecast"] + ". Exhaustion: " + SLO_FACTS["exhaustion"]
    + ". Scope:" + SCOPE + "."
)  # fmt: skip


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
    facts: dict[str, str] | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An alerting rule with the project's labels and annotations."""
    annotations = {"summary": summary, "description": description}
    annotations.update(facts or {})
    annotations.update(extra or {})
    annotations.update(links(name, labels["kind"]))
    return {
        "alert": name,
        "expr": expr.strip() + "\n",
        "for": for_,
        "labels": labels,
        "annotations": annotations,
    }


# A group is (name, comment, rules) and each rule is (comment, rule).
Group = tuple[str, str, list[tuple[str, dict[str, Any]]]]
