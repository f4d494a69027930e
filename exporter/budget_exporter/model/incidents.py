"""The normalized incident record every incident provider returns.

An incident record is the outage an SLO counts: ``[start, end)`` (``end`` None while it is still
open), the ``service`` it hit, its ``category`` (incident, deployment, maintenance...), its
``impact`` (0..1, the share of the service that was down) and free ``attributes`` (urgency,
priority, team...) that SLO filters match on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .bad_rows import BadRows

DEFAULT_CATEGORY = "incident"


# Keys of the record itself; every other key is a filterable attribute.
RECORD_FIELDS = ("id", "service", "title", "start", "end", "category", "impact")


# Record fields that SLO filters match besides the attributes.
FILTER_FIELDS = ("id", "service", "title", "category")


@dataclass(frozen=True)
class Incident:
    """One normalized incident record."""

    id: str
    service: str
    title: str
    start: datetime
    end: datetime | None = None
    category: str = DEFAULT_CATEGORY
    impact: float = 1.0
    attributes: Mapping[str, str] = field(default_factory=dict)

    def value(self, key: str) -> str | None:
        """The text of a record field or attribute that filters match on; None when absent."""
        if key in FILTER_FIELDS:
            return str(getattr(self, key))
        return self.attributes.get(key)


@dataclass(frozen=True)
class IncidentData:
    """What one refresh of an incident provider delivered."""

    incidents: tuple[Incident, ...]
    data_end: datetime | None
    bad_rows: BadRows = field(default_factory=BadRows)
    settled_through: datetime | None = None
    sources: int = 0
    # Oldest moment the source was asked about; None when it holds its whole history (files).
    covers_from: datetime | None = None
