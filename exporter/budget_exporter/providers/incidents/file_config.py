"""Settings of an ``incidents_file`` provider, apart from its parsing."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ...model.fields import TextList
from .base_config import IncidentProviderConfig


class IncidentsFileConfig(IncidentProviderConfig):
    """Config of an ``incidents_file`` provider."""

    type: Literal["incidents_file"]
    paths: TextList = Field(min_length=1)
    # Service of records that name none (a file per service).
    service: str = ""
