"""Opsgenie incidents from the Incident API (``GET /v1/incidents``, ``GenieKey`` auth).

Atlassian ends Opsgenie, and this API with it, in April 2027; plan a move to another source
before then. US accounts use ``api.opsgenie.com``, EU accounts ``api.eu.opsgenie.com``.
Incidents are listed newest first with offset paging (``offset``, ``limit``, ``paging.next``)
until the lookback is covered. The list gives no resolution time: an incident's outage runs
from ``impactStartDate`` (else ``createdAt``) to ``impactEndDate`` when set, else, once it is
resolved or closed, to its last update (``updatedAt``). Each impacted service becomes the
service of one record (named through ``service_names`` when given).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from ...model.bad_rows import BadRows
from ...model.incidents import Incident, IncidentData
from ..base import ProviderConfig
from .api import ApiIncidentProvider, created_before
from .api import text as _text
from .base import as_dict, as_list
from .base import parse_time as _parse_time
from .opsgenie_config import OpsgenieConfig

HOSTS = {"us": "https://api.opsgenie.com", "eu": "https://api.eu.opsgenie.com"}
CLOSED_STATUSES = frozenset({"resolved", "closed"})
MAX_PAGES = 200


def incidents_from_opsgenie(item: Any, service_names: dict[str, str]) -> list[Incident]:
    """One record per impacted service of an Opsgenie incident; ValueError if unusable."""
    if not isinstance(item, dict) or not item.get("id"):
        raise ValueError("incident is not an object with an id")
    ident = str(item["id"])
    started = item.get("impactStartDate") or item.get("createdAt")
    if not started:
        raise ValueError(f"incident {ident}: createdAt is missing")
    start = _parse_time(started)
    status = _text(item.get("status")).lower()
    ended = item.get("impactEndDate") or (
        item.get("updatedAt") if status in CLOSED_STATUSES else None
    )
    end = _parse_time(ended) if ended else None
    if status in CLOSED_STATUSES and end is None:
        raise ValueError(f"incident {ident}: {status} without updatedAt")
    if end is not None and end < start:
        raise ValueError(f"incident {ident}: ends before it starts")
    tags = as_list(item.get("tags"))
    attributes = {
        "status": status,
        "priority": _text(item.get("priority")),
        "tiny_id": _text(item.get("tinyId")),
        "owner_team": _text(item.get("ownerTeam")),
        "tags": ",".join(str(tag) for tag in tags),
    }
    services = as_list(item.get("impactedServices"))
    names = [service_names.get(str(s), str(s)) for s in services] or [""]
    return [
        Incident(
            id=ident,
            service=name,
            title=_text(item.get("message")),
            start=start,
            end=end,
            attributes=attributes,
        )
        for name in names
    ]


class OpsgenieProvider(ApiIncidentProvider[OpsgenieConfig]):
    """Reads incidents from Opsgenie's Incident API."""

    type_name: ClassVar[str] = "opsgenie"
    config_model: ClassVar[type[ProviderConfig]] = OpsgenieConfig

    def fetch(self, now: datetime) -> IncidentData:
        key = self.secret(self.settings.api_key, self.settings.api_key_file, "api_key_file")
        host = self.settings.base_url or HOSTS[self.settings.region]
        url = f"{host.rstrip('/')}/v1/incidents"
        since = self.since(now)
        items: list[Any] = []
        limit = self.settings.page_size
        for page in range(MAX_PAGES):
            params: dict[str, Any] = {
                "offset": page * limit,
                "limit": limit,
                "sort": "createdAt",
                "order": "desc",
            }
            if self.settings.query:
                params["query"] = self.settings.query
            body = self.client.get_json(
                url, params=params, headers={"Authorization": f"GenieKey {key}"}
            )
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise self.malformed(url, "an object with a 'data' list")
            data = body["data"]
            items.extend(data)
            paging = as_dict(body.get("paging"))
            # Newest first: stop once the page reaches back past the lookback.
            if (
                not paging.get("next")
                or len(data) < limit
                or created_before(data[-1], "createdAt", since)
            ):
                break
        incidents: list[Incident] = []
        bad = BadRows()
        for position, item in enumerate(items, start=1):
            try:
                found = incidents_from_opsgenie(item, self.settings.service_names)
            except ValueError as error:
                bad += self.bad_row(position, error)
                continue
            # Open incidents count whatever their age; closed ones only if they reach the lookback.
            incidents.extend(i for i in found if i.end is None or i.end >= since)
        return IncidentData(
            incidents=tuple(incidents),
            data_end=now,
            bad_rows=bad,
            sources=1,
            covers_from=since,
        )
