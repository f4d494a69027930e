"""The exporter itself: scrapes, provider refreshes, data age and the served snapshot."""

from __future__ import annotations

from mixin.severities import (
    DATA_KEEP_FIRING_FOR,
    EXPORTER_DOWN_FOR,
    EXPORTER_DOWN_KEEP_FIRING_FOR,
    NAMES,
)
from rules.annotations import Group, alert, duration, fact, moment, with_facts

DATA_MAX_AGE_DEFAULT_DAYS = 2  # billing exports lag up to a day; two days means stuck

PROVIDER = "{{ $labels.provider }} ({{ $labels.type }})"
exporter_alerts: Group = (
    "budget-exporter.alerts",
    'The exporter itself. Prometheus scrapes it as job="budget-exporter".',
    [
        (
            "Prometheus cannot scrape the exporter: every budget alert is blind. Its alerts "
            "hold through the delay (keep_firing_for), then this one inhibits them; it stays "
            "past the outage so that what resolved meanwhile is flushed unsent.",
            alert(
                "BudgetExporterDown",
                'up{job="budget-exporter"} == 0',
                EXPORTER_DOWN_FOR,
                {"kind": "exporter", "severity": "warning"},
                "The budget exporter cannot be scraped.",
                "Prometheus has failed to scrape {{ $labels.instance }} (job {{ $labels.job }}) "
                f"for {EXPORTER_DOWN_FOR} or more. Its budget and SLO alerts stay as they were: "
                f"they hold {DATA_KEEP_FIRING_FOR} without data, then this alert holds them "
                "back, so none resolves and none newly fires until the exporter is back. This "
                f"alert clears {EXPORTER_DOWN_KEEP_FIRING_FOR} after scrapes succeed again.",
                keep_firing_for=EXPORTER_DOWN_KEEP_FIRING_FOR,
            ),
        ),
        (
            "A provider's refreshes keep failing; its last good data is served and ages.",
            alert(
                "BudgetExporterProviderFailing",
                "budget_exporter_provider_up == 0",
                "30m",
                {"kind": "exporter", "severity": "warning"},
                "A cost or incident provider keeps failing to refresh.",
                with_facts(
                    "$labels.provider",
                    {
                        "errors": fact("budget_exporter_provider_errors_total"),
                        "since": fact("budget_exporter_provider_last_success_timestamp_seconds"),
                        "suspect": fact("budget_exporter_provider_suspect"),
                    },
                    "Provider "
                    + PROVIDER
                    + " on {{ $labels.instance }} has failed "
                    + '{{ printf "%.0f" $errors }} refresh(es) since the exporter started; '
                    + "{{ if $has_since }}last success "
                    + moment("$since")
                    + "{{ else }}no success yet{{ end }}."
                    + "{{ if gt $suspect 0.0 }} Its last answer was refused: it had far less "
                    "cost on days that had settled before (a truncated file or a partial "
                    "answer).{{ end }} Budgets keep its last good data, which gets older.",
                ),
            ),
        ),
        (
            f"The newest cost data is older than the provider's configured maximum age "
            f"(budget_exporter_provider_data_max_age_seconds; {DATA_MAX_AGE_DEFAULT_DAYS} days "
            "where the exporter does not expose one).",
            alert(
                "BudgetExporterDataStale",
                "round(time() - budget_exporter_provider_data_newest_timestamp_seconds, 60)\n"
                "  > (\n"
                "    budget_exporter_provider_data_max_age_seconds\n"
                "    or\n"
                "    budget_exporter_provider_data_newest_timestamp_seconds * 0 + "
                f"{DATA_MAX_AGE_DEFAULT_DAYS} * 86400\n"
                "  )",
                "1h",
                {"kind": "exporter", "severity": "warning"},
                "A provider's newest cost data is too old.",
                "The newest data of provider "
                + PROVIDER
                + " is "
                + duration("$value")
                + " old; spend, burn rates and forecasts miss everything since.",
            ),
        ),
        (
            "Rows were rejected in the provider's last refresh: spend is under-counted.",
            alert(
                "BudgetExporterBadRows",
                "budget_exporter_provider_bad_rows > 0",
                "15m",
                {"kind": "exporter", "severity": "notice"},
                "A provider returned rows the exporter could not read.",
                "Provider " + PROVIDER + ' rejected {{ printf "%.0f" $value }} row(s) in its '
                "last refresh; their cost is missing from every budget that uses it. The "
                "exporter log names the file and line of the first ones.",
            ),
        ),
        (
            "The served snapshot is not renewed: the refresh loop is stuck or no worker leads it.",
            alert(
                "BudgetExporterSnapshotStale",
                "round(time() - budget_exporter_snapshot_timestamp_seconds, 60) > 15 * 60",
                "5m",
                {"kind": "exporter", "severity": "warning"},
                "The exporter keeps serving an old snapshot.",
                "The numbers served by {{ $labels.instance }} were computed "
                + duration("$value")
                + " ago; budgets and SLOs no longer move until the refresh loop runs again.",
            ),
        ),
        (
            "Budgets without a forecast for an hour: the exporter fits a capped number of "
            "models per evaluation, so after a start with many new budgets forecasts arrive "
            "over the next evaluations; an hour of waiting means fits fall behind.",
            alert(
                "BudgetExporterForecastsWaiting",
                "budget_exporter_forecasts_waiting > 0",
                "1h",
                {"kind": "exporter", "severity": "notice"},
                "Some budgets have no forecast yet.",
                '{{ printf "%.0f" $value }} budget(s) on {{ $labels.instance }} have been '
                "served without a forecast for an hour: their forecast and exhaustion alerts "
                "cannot fire meanwhile. The exporter log names them.",
            ),
        ),
        (
            "A threshold named outside the severity ladder would reach no route and no "
            "inhibition: name thresholds after mixin/severities.py.",
            alert(
                "BudgetExporterThresholdSeverityUnknown",
                'count by (job, instance, severity) (budget_alert_threshold_ratio{severity!~"'
                + "|".join(NAMES)
                + '"})',
                "15m",
                {"kind": "exporter", "severity": "warning"},
                "A budget threshold has a severity that Alertmanager does not route.",
                "{{ $labels.instance }} has {{ $value }} budget threshold(s) named "
                '"{{ $labels.severity }}", which is not one of ' + ", ".join(NAMES) + ". "
                "They would be routed like a notice and never escalate or inhibit; rename "
                "them in the exporter config's thresholds.",
            ),
        ),
    ],
)
