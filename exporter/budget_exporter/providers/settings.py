"""Each provider type's settings by its ``type:`` name, without loading any provider's code.

The config validates with these alone, so loading a config (for ``check``, ``report``,
``admit``) imports no pandas, SDK or HTTP client; ``registry`` maps the same names to the
providers themselves, and a test holds the two maps to the same names and classes.
"""

from __future__ import annotations

from .base_config import ProviderConfig
from .cost.aws_athena_config import AwsAthenaConfig
from .cost.aws_ce_config import AwsCostExplorerConfig
from .cost.aws_cur_config import AwsCurConfig
from .cost.azure_cost_management_config import AzureCostManagementConfig
from .cost.csvfile_config import CsvConfig
from .cost.databricks_config import DatabricksConfig
from .cost.demo_config import DemoConfig
from .cost.focus_config import FocusConfig
from .cost.gcp_bigquery_config import GcpBigQueryConfig
from .cost.opencost_config import OpenCostConfig
from .incidents.base_config import IncidentProviderConfig
from .incidents.demo_config import DemoIncidentsConfig
from .incidents.file_config import IncidentsFileConfig
from .incidents.opsgenie_config import OpsgenieConfig
from .incidents.pagerduty_config import PagerDutyConfig
from .incidents.statuspage_config import StatuspageConfig

COST_SETTINGS: dict[str, type[ProviderConfig]] = {
    "focus": FocusConfig,
    "csv": CsvConfig,
    "demo": DemoConfig,
    "gcp_bigquery": GcpBigQueryConfig,
    "azure_cost_management": AzureCostManagementConfig,
    "databricks": DatabricksConfig,
    "opencost": OpenCostConfig,
    "aws_cost_explorer": AwsCostExplorerConfig,
    "aws_cur": AwsCurConfig,
    "aws_athena": AwsAthenaConfig,
}
# Incident sources feed SLOs, never money budgets.
INCIDENT_SETTINGS: dict[str, type[IncidentProviderConfig]] = {
    "incidents_file": IncidentsFileConfig,
    "pagerduty": PagerDutyConfig,
    "statuspage": StatuspageConfig,
    "opsgenie": OpsgenieConfig,
    "demo_incidents": DemoIncidentsConfig,
}

__all__ = ["COST_SETTINGS", "INCIDENT_SETTINGS", "ProviderConfig"]
