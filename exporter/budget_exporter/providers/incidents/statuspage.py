"""Incidents of an Atlassian Statuspage page.

Two sources: the public feed of any page (``{url}/api/v2/incidents.json``, its latest 50
incidents) or, for private pages and longer history, the management API
(``GET /v1/pages/{page_id}/incidents`` with an API key, ``page``/``per_page`` paging). An
incident's outage runs from ``started_at`` (else ``created_at``) to ``resolved_at``; its
``impact`` (none, minor, major, critical) maps to a configurable weight; each affected
component becomes the service of one record, so SLOs filter on component names. Statuspage
writes times with the page's local offset (``-05:00``), which is kept when reading them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar

from ...model.bad_rows import BadRows
from ...model.incidents import Incident, IncidentData
from ..base import ProviderConfig
from .api import ApiIncidentProvider, created_before
from .api import text as _text
from .base import as_dict, as_list
from .base import parse_time as _parse_time
from .statuspage_config import StatuspageConfig

RESOLVED_STATUSES = frozenset({"resolved", "postmortem", "completed"})
MAX_PAGES = 100


def incidents_from_statuspage(item: Any, weights: dict[str, float]) -> list[Incident]:
    """One record per affected component of a Statuspage incident; ValueError if unusable."""
    if not isinstance(item, dict) or not item.get("id"):
        raise ValueError("incident is not an object with an id")
    ident = str(item["id"])
    started = item.get("started_at") or item.get("created_at")
    if not started:
        raise ValueError(f"incident {ident}: neither started_at nor created_at is set")
    impact_name = _text(item.get("impact_override") or item.get("impact")).lower() or "none"
    if impact_name not in weights:
        known = ", ".join(sorted(weights))
        raise ValueError(f"incident {ident}: impact {impact_name!r} has no weight; known: {known}")
    start = _parse_time(started)
    status = _text(item.get("status"))
    end = None
    if item.get("resolved_at"):
        end = _parse_time(item["resolved_at"])
    elif status in RESOLVED_STATUSES:
        raise ValueError(f"incident {ident}: status {status} but no resolved_at")
    if end is not None and end < start:
        raise ValueError(f"incident {ident}: resolved before it started")
    category = "maintenance" if item.get("scheduled_for") else "incident"
    attributes = {
        "status": status,
        "impact": impact_name,
        "shortlink": _text(item.get("shortlink")),
    }
    components = as_list(item.get("components"))
    names = [_text(as_dict(c).get("name")) for c in components if isinstance(c, dict)] or [""]
    return [
        Incident(
            id=ident,
            service=name,
            title=_text(item.get("name")),
            start=start,
            end=end,
            category=category,
            impact=weights[impact_name],
            attributes=attributes,
        )
        for name in names
    ]


class StatuspageProvider(ApiIncidentProvider[StatuspageConfig]):
    """Reads a Statuspage page's incidents from its public feed or the management API."""

    type_name: ClassVar[str] = "statuspage"
    config_model: ClassVar[type[ProviderConfig]] = StatuspageConfig

    def fetch(self, now: datetime) -> IncidentData:
        items = self._public() if self.settings.url is not None else self._managed(now)
        incidents: list[Incident] = []
        bad = BadRows()
        for position, item in enumerate(items, start=1):
            try:
                incidents.extend(incidents_from_statuspage(item, self.settings.impact_weights))
            except ValueError as error:
                bad += self.bad_row(position, error)
        # The public feed holds the latest 50 incidents only: its history has no known start.
        covers_from = self.since(now) if self.settings.page_id is not None else None
        return IncidentData(
            incidents=tuple(incidents),
            data_end=now,
            bad_rows=bad,
            sources=1,
            covers_from=covers_from,
        )

    def _public(self) -> list[Any]:
        assert self.settings.url is not None
        url = f"{self.settings.url.rstrip('/')}/api/v2/incidents.json"
        body = self.client.get_json(url)
        if not isinstance(body, dict) or not isinstance(body.get("incidents"), list):
            raise self.malformed(url, "an object with an 'incidents' list")
        return list(body["incidents"])

    def _managed(self, now: datetime) -> Iterator[Any]:
        key = self.secret(self.settings.api_key, self.settings.api_key_file, "api_key_file")
        url = f"{self.settings.api_url.rstrip('/')}/pages/{self.settings.page_id}/incidents"
        since = self.since(now)
        items: list[Any] = []
        for page in range(1, MAX_PAGES + 1):
            body = self.client.get_json(
                url,
                params={"page": page, "per_page": self.settings.page_size},
                headers={"Authorization": f"OAuth {key}"},
            )
            if not isinstance(body, list):
                raise self.malformed(url, "a list of incidents")
            items.extend(body)
            # Newest first: once a whole page was created before the lookback, stop.
            if len(body) < self.settings.page_size or all(
                created_before(i, "created_at", since) for i in body
            ):
                break
        return iter(items)
