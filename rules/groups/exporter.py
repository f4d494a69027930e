"""The exporter itself: scrapes, provider refreshes, data age and the served snapshot."""

from __future__ import annotations

from rules.annotations import Group, alert, first_value

DATA_MAX_AGE_DEFAULT_DAYS = 2  # billing exports lag up to a day; two days means stuck

PROVIDER = "{{ $labels.provider }} ({{ $labels.type }})"
exporter_alerts: Group = (
    "budget-exporter.alerts",
    'The exporter itself. Prometheus scrapes it as job="budget-exporter".',
    [
        (
            "Prometheus cannot scrape the exporter: every budget alert is blind.",
            alert(
                "BudgetExporterDown",
                'up{job="budget-exporter"} == 0',
                "5m",
                {"kind": "exporter", "severity": "warning"},
                "The budget exporter cannot be scraped.",
                "Prometheus has failed to scrape {{ $labels.instance }} (job {{ $labels.job }}) "
                "for 5 minutes; budget and SLO alerts that depend on it are silenced until it "
                "is back.",
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
                "Provider "
                + PROVIDER
                + " on {{ $labels.instance }} has failed "
                + first_value(
                    "budget_exporter_provider_errors_total{provider=%q,instance=%q}",
                    "$labels.provider $labels.instance",
                    'printf "%.0f"',
                )
                + " refresh(es) since the exporter started; last success "
                + first_value(
                    "(time() - budget_exporter_provider_last_success_timestamp_seconds"
                    "{provider=%q,instance=%q})",
                    "$labels.provider $labels.instance",
                    "humanizeDuration",
                    "never",
                )
                + " ago. Budgets keep its last good data, which gets older.",
            ),
        ),
        (
            f"The newest cost data is older than the provider's configured maximum age "
            f"(budget_exporter_provider_data_max_age_seconds; {DATA_MAX_AGE_DEFAULT_DAYS} days "
            "where the exporter does not expose one).",
            alert(
                "BudgetExporterDataStale",
                "time() - budget_exporter_provider_data_newest_timestamp_seconds\n"
                "  > (\n"
                "    budget_exporter_provider_data_max_age_seconds\n"
                "    or\n"
                "    budget_exporter_provider_data_newest_timestamp_seconds * 0 + "
                f"{DATA_MAX_AGE_DEFAULT_DAYS} * 86400\n"
                "  )",
                "1h",
                {"kind": "exporter", "severity": "warning"},
                "A provider's newest cost data is too old.",
                "The newest data of provider " + PROVIDER + " is {{ $value | humanizeDuration }}"
                " old; spend, burn rates and forecasts miss everything since.",
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
                "time() - budget_exporter_snapshot_timestamp_seconds > 15 * 60",
                "5m",
                {"kind": "exporter", "severity": "warning"},
                "The exporter keeps serving an old snapshot.",
                "The numbers served by {{ $labels.instance }} were computed "
                "{{ $value | humanizeDuration }} ago; budgets and SLOs no longer move until "
                "the refresh loop runs again.",
            ),
        ),
    ],
)
