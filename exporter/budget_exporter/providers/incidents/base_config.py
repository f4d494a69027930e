"""Settings every incident provider accepts, apart from the parsing they share."""

from __future__ import annotations

from datetime import timedelta

from ...model.fields import Duration
from ..base_config import ProviderConfig


class IncidentProviderConfig(ProviderConfig):
    """Settings every incident provider accepts."""

    # Incident records are final when written; nothing is provisional.
    settlement_lag: Duration = timedelta(0)
    # How far back to ask for incidents: at least the longest SLO window (a quarter is 92
    # days) and history.
    lookback: Duration = timedelta(days=100)
