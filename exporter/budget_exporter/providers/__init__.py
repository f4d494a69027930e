"""Data sources, one provider type per module: cost frames for budgets, incidents for SLOs."""

from __future__ import annotations

from .aws_cost_explorer import AwsCostExplorerProvider
from .aws_cur import AwsCurProvider
from .azure_cost_management import AzureCostManagementProvider
from .base import CostData, CostProvider, ProviderConfig, ProviderContext
from .csvfile import CsvProvider
from .databricks import DatabricksProvider
from .demo import DemoProvider
from .demo_incidents import DemoIncidentsProvider
from .focus import FocusProvider
from .gcp_bigquery import GcpBigQueryProvider
from .incidents import IncidentData, IncidentProvider
from .incidents_file import IncidentsFileProvider
from .opencost import OpenCostProvider
from .opsgenie import OpsgenieProvider
from .pagerduty import PagerDutyProvider
from .statuspage import StatuspageProvider

COST_PROVIDERS: dict[str, type[CostProvider]] = {
    provider.type_name: provider
    for provider in (
        FocusProvider,
        CsvProvider,
        DemoProvider,
        GcpBigQueryProvider,
        AzureCostManagementProvider,
        DatabricksProvider,
        OpenCostProvider,
        AwsCostExplorerProvider,
        AwsCurProvider,
    )
}
# Incident sources feed SLOs, never money budgets.
INCIDENT_PROVIDERS: dict[str, type[IncidentProvider]] = {
    provider.type_name: provider
    for provider in (
        IncidentsFileProvider,
        PagerDutyProvider,
        StatuspageProvider,
        OpsgenieProvider,
        DemoIncidentsProvider,
    )
}

__all__ = [
    "COST_PROVIDERS",
    "INCIDENT_PROVIDERS",
    "CostData",
    "CostProvider",
    "IncidentData",
    "IncidentProvider",
    "ProviderConfig",
    "ProviderContext",
    "build_provider",
]


def build_provider(
    name: str, config: ProviderConfig, context: ProviderContext
) -> CostProvider | IncidentProvider:
    """Instantiate the provider for a validated provider config."""
    incident_source = INCIDENT_PROVIDERS.get(config.type)
    if incident_source is not None:
        return incident_source(name, config, context)
    return COST_PROVIDERS[config.type](name, config, context)
