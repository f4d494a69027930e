"""PagerDuty incidents from the REST API v2 (``GET /incidents``).

The outage of an incident runs from ``created_at`` to ``resolved_at`` (or, for a resolved
incident without it, ``last_status_change_at``); an unresolved incident is open. Incidents are
read with ``since``/``until`` over the lookback, plus every still-open incident whatever its age
(``date_range=all``), with offset pagination (``limit``, ``offset``, ``more``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from ...model.bad_rows import BadRows
from ...model.incidents import Incident, IncidentData
from ..base import ProviderConfig
from ..support.http import RetryPolicy
from .api import ApiIncidentProvider
from .api import text as _text
from .base import as_dict, as_list
from .base import parse_time as _parse_time
from .pagerduty_config import PagerDutyConfig

ACCEPT = "application/vnd.pagerduty+json;version=2"
OPEN_STATUSES = ("triggered", "acknowledged")
ALL_STATUSES = (*OPEN_STATUSES, "resolved")
# PagerDuty refuses offsets beyond 10000 for classic pagination.
MAX_OFFSET = 10_000


def _summary(value: Any) -> str:
    return _text(value.get("summary")) if isinstance(value, dict) else ""


def incident_from_pagerduty(item: Any) -> Incident:
    """Normalize one PagerDuty incident object; ValueError names what is wrong."""
    if not isinstance(item, dict):
        raise ValueError("incident is not an object")
    if not item.get("id"):
        raise ValueError("incident has no id")
    if not item.get("created_at"):
        raise ValueError(f"incident {item['id']}: created_at is missing")
    status = _text(item.get("status"))
    end = None
    resolved = item.get("resolved_at") or (
        item.get("last_status_change_at") if status == "resolved" else None
    )
    if status == "resolved" and resolved:
        end = _parse_time(resolved)
    elif status == "resolved":
        raise ValueError(f"incident {item['id']}: resolved without a resolution time")
    start = _parse_time(item["created_at"])
    if end is not None and end < start:
        raise ValueError(f"incident {item['id']}: resolved before it was created")
    service = as_dict(item.get("service"))
    teams = as_list(item.get("teams"))
    attributes = {
        "status": status,
        "urgency": _text(item.get("urgency")),
        "priority": _summary(item.get("priority")),
        "service_id": _text(service.get("id")),
        "incident_number": _text(item.get("incident_number")),
        "escalation_policy": _summary(item.get("escalation_policy")),
        "teams": ",".join(_summary(team) for team in teams),
    }
    return Incident(
        id=str(item["id"]),
        service=_text(service.get("summary")) or _text(service.get("id")),
        title=_text(item.get("title")),
        start=start,
        end=end,
        attributes=attributes,
    )


class PagerDutyProvider(ApiIncidentProvider[PagerDutyConfig]):
    """Reads incidents from PagerDuty's REST API."""

    type_name: ClassVar[str] = "pagerduty"
    config_model: ClassVar[type[ProviderConfig]] = PagerDutyConfig

    def client_options(self) -> dict[str, Any]:
        return {
            "retry": RetryPolicy(retry_after_headers=("Retry-After", "ratelimit-reset")),
            "headers": {"Accept": ACCEPT},
        }

    def fetch(self, now: datetime) -> IncidentData:
        token = self.secret(self.settings.token, self.settings.token_file, "token_file")
        headers = {"Authorization": f"Token token={token}"}
        filters: dict[str, Any] = {"time_zone": "UTC"}
        for key, values in (
            ("service_ids[]", self.settings.service_ids),
            ("team_ids[]", self.settings.team_ids),
            ("urgencies[]", self.settings.urgencies),
        ):
            if values:
                filters[key] = list(values)
        recent = {
            **filters,
            "since": self.since(now).isoformat(),
            "until": now.isoformat(),
            "statuses[]": list(ALL_STATUSES),
        }
        still_open = {**filters, "date_range": "all", "statuses[]": list(OPEN_STATUSES)}
        incidents: dict[str, Incident] = {}
        bad = BadRows()
        position = 0
        for query in (recent, still_open):
            for item in self._pages(query, headers):
                position += 1
                try:
                    incident = incident_from_pagerduty(item)
                except ValueError as error:
                    bad += self.bad_row(position, error)
                    continue
                incidents[incident.id] = incident
        return IncidentData(
            incidents=tuple(incidents.values()),
            data_end=now,
            bad_rows=bad,
            sources=1,
            covers_from=self.since(now),
        )

    def _pages(self, query: dict[str, Any], headers: dict[str, str]) -> list[Any]:
        url = f"{self.settings.base_url.rstrip('/')}/incidents"
        items: list[Any] = []
        offset = 0
        while True:
            params = {**query, "limit": self.settings.page_size, "offset": offset}
            body = self.client.get_json(url, params=params, headers=headers)
            if not isinstance(body, dict) or not isinstance(body.get("incidents"), list):
                raise self.malformed(url, "an object with an 'incidents' list")
            page = body["incidents"]
            items.extend(page)
            offset += len(page)
            if not body.get("more") or not page or offset >= MAX_OFFSET:
                return items
