"""The provisioned dashboards' addresses: grafana/ builds them, alerts in rules/ link to them."""

from __future__ import annotations

from dataclasses import dataclass

#: Tag of every dashboard; their "Budget dashboards" menu lists the dashboards with it.
TAG = "budget-exporter"


@dataclass(frozen=True)
class Dashboard:
    """A dashboard's fixed uid, the slug of its address and file, and its title."""

    uid: str
    slug: str  # grafana/dashboards/<slug>.json, and the last part of /d/<uid>/<slug>
    title: str

    @property
    def file_name(self) -> str:
        return f"{self.slug}.json"

    def path(self, variable: str, value: str) -> str:
        """The dashboard's address with one variable set, relative to Grafana's root."""
        return f"/d/{self.uid}/{self.slug}?var-{variable}={value}"


COST_OVERVIEW = Dashboard("budget-cost-overview", "cost-overview", "Budgets / Cost overview")
BUDGET_DETAIL = Dashboard("budget-detail", "budget-detail", "Budgets / Budget detail")
ERROR_BUDGETS = Dashboard("budget-error-budgets", "error-budgets", "Budgets / Error budgets")
EXPORTER_HEALTH = Dashboard(
    "budget-exporter-health", "exporter-health", "Budgets / Exporter health"
)
