"""Deterministic synthetic incidents, so the demo SLOs show every error budget metric moving.

Past incidents depend only on the seed, the service and the calendar day, so the same day shows
the same history. On top of that, ``checkout`` has an outage that started 25 minutes before
``now`` and is still open: its SLO burns fast whatever the date. ``api`` has a weekly
maintenance window (category ``maintenance``) that its SLO excludes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

from ...model.incidents import Incident, IncidentData
from ..base import ProviderConfig
from .base import IncidentProvider
from .demo_config import DemoIncidentsConfig

OPEN_OUTAGE_AGE = timedelta(minutes=25)


@dataclass(frozen=True)
class _Service:
    name: str
    one_day_in: int  # an incident on roughly one day in this many
    shortest: int  # minutes
    longest: int  # minutes
    team: str


_SERVICES = (
    _Service("api", 9, 2, 12, "platform"),
    _Service("checkout", 15, 5, 25, "web"),
    _Service("search", 6, 10, 60, "data"),
)
_CATEGORIES = ("incident", "incident", "incident", "deployment")


def _draw(seed: int, service: str, day: date) -> bytes:
    return hashlib.sha256(f"{seed}:{service}:{day.isoformat()}".encode()).digest()


class DemoIncidentsProvider(IncidentProvider[DemoIncidentsConfig]):
    """Generates incident history for three services up to ``now``, one outage still open."""

    type_name: ClassVar[str] = "demo_incidents"
    config_model: ClassVar[type[ProviderConfig]] = DemoIncidentsConfig

    def fetch(self, now: datetime) -> IncidentData:
        zone = ZoneInfo(self.context.timezone)
        today = now.astimezone(zone).date()
        incidents: list[Incident] = []
        for offset in range(self.settings.history_days, -1, -1):
            day = today - timedelta(days=offset)
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            for service in _SERVICES:
                incident = self._incident(service, day, midnight)
                if incident is not None and incident.end is not None and incident.end <= now:
                    incidents.append(incident)
            if day.weekday() == 6:
                start = midnight + timedelta(hours=2)
                if start + timedelta(hours=1) <= now:
                    incidents.append(
                        Incident(
                            id=f"api-maintenance-{day:%Y%m%d}",
                            service="api",
                            title="Weekly database maintenance",
                            start=start,
                            end=start + timedelta(hours=1),
                            category="maintenance",
                            attributes={"urgency": "low", "team": "platform"},
                        )
                    )
        incidents.append(
            Incident(
                id="checkout-open",
                service="checkout",
                title="Payment provider timeouts",
                start=now - OPEN_OUTAGE_AGE,
                end=None,
                attributes={"urgency": "high", "team": "web", "priority": "P1"},
            )
        )
        first_day = today - timedelta(days=self.settings.history_days)
        return IncidentData(
            incidents=tuple(incidents),
            data_end=now,
            sources=1,
            covers_from=datetime(first_day.year, first_day.month, first_day.day, tzinfo=zone),
        )

    def _incident(self, service: _Service, day: date, midnight: datetime) -> Incident | None:
        digest = _draw(self.settings.seed, service.name, day)
        if digest[0] % service.one_day_in != 0:
            return None
        start = midnight + timedelta(minutes=digest[1] * 1439 // 255)
        span = service.longest - service.shortest
        minutes = service.shortest + digest[2] * span // 255
        impact = (1.0, 0.5, 0.25)[digest[3] % 3]
        return Incident(
            id=f"{service.name}-{day:%Y%m%d}",
            service=service.name,
            title=f"{service.name} errors above threshold",
            start=start,
            end=start + timedelta(minutes=minutes),
            category=_CATEGORIES[digest[4] % len(_CATEGORIES)],
            impact=impact,
            attributes={
                "urgency": "high" if digest[5] % 3 else "low",
                "team": service.team,
                "priority": f"P{1 + digest[6] % 4}",
            },
        )
