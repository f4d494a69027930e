"""Every provider type by its ``type:`` name -> its class, and how one is built from its settings.

It loads every provider's code; the config validates with ``settings`` alone.
"""

from __future__ import annotations

from ..model.costs import CostData
from ..model.incidents import IncidentData
from .base import CostProvider, ProviderConfig, ProviderContext
from .cost.aws_athena import AwsAthenaProvider
from .cost.aws_cost_explorer import AwsCostExplorerProvider
from .cost.aws_cur import AwsCurProvider
from .cost.azure_cost_management import AzureCostManagementProvider
from .cost.csvfile import CsvProvider
from .cost.databricks import DatabricksProvider
from .cost.demo import DemoProvider
from .cost.focus import FocusProvider
from .cost.gcp_bigquery import GcpBigQueryProvider
from .cost.opencost import OpenCostProvider
from .incidents.base import IncidentProvider
from .incidents.demo import DemoIncidentsProvider
from .incidents.file import IncidentsFileProvider
from .incidents.opsgenie import OpsgenieProvider
from .incidents.pagerduty import PagerDutyProvider
from .incidents.statuspage import StatuspageProvider

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
        AwsAthenaProvider,
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
