"""Budgets / Exporter health: whether the data behind the budgets is fresh and complete."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common as cm

from grafana.builders.panels import (
    dashboard,
    label_variable,
    q,
    series_panel,
    stat_panel,
    steps,
    up_mapping,
)
from mixin.colours import GREEN, ORANGE, RED
from mixin.dashboards import EXPORTER_HEALTH

JOB = 'job=~"$job"'


def build() -> Any:
    """The dashboard."""
    d = dashboard(
        EXPORTER_HEALTH,
        "Is the data behind the budgets fresh and complete: scrapes, provider refreshes, "
        "errors, bad rows and data age.",
        "now-24h",
    )
    d = d.with_variable(
        label_variable(
            "job", "Job", "budget_exporter_build_info", True, "Scrape jobs of the exporter."
        )
    )
    d = exporter(d)
    return providers(d)


def exporter(d: Any) -> Any:
    """Row of the exporter's own scrape, version and timings."""
    d = d.with_row(db.Row("Exporter"))
    d = d.with_panel(
        stat_panel(
            "Scrape",
            "Whether Prometheus reaches the exporter.",
            [q(f"up{{{JOB}}}", "{{instance}}", instant=True)],
            "none",
            w=4,
            thresholds=steps((None, RED), (1, GREEN)),
        ).mappings(up_mapping("down", "up"))
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

    return d


def providers(d: Any) -> Any:
    """Row of each provider's refreshes, errors, bad rows and data age."""
    d = d.with_row(db.Row("Providers"))
    d = d.with_panel(
        stat_panel(
            "Provider up",
            "Whether each provider's last refresh succeeded; when failing, its last good data "
            "is still served and getting old.",
            [q(f"budget_exporter_provider_up{{{JOB}}}", "{{provider}}", instant=True)],
            "none",
            w=6,
            thresholds=steps((None, RED), (1, GREEN)),
        ).mappings(up_mapping("failing", "ok"))
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
