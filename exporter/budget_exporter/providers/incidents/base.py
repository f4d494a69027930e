"""The incident provider interface, and the parsing every incident source shares.

Records come out as ``model.incidents.Incident``; the helpers here turn file rows and API objects
into them, each error naming the field at fault.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from ...model.incidents import DEFAULT_CATEGORY, RECORD_FIELDS, Incident, IncidentData
from ...model.periods import parse_duration
from ..base import Provider
from .base_config import IncidentProviderConfig

IncidentConfigT = TypeVar("IncidentConfigT", bound=IncidentProviderConfig)


class IncidentProvider(Provider[IncidentConfigT, IncidentData]):
    """A source of incident records: ``fetch`` returns those overlapping the lookback."""

    def since(self, now: datetime) -> datetime:
        """Oldest moment the provider asks its source about."""
        return now - self.settings.lookback


def parse_time(value: Any, zone: ZoneInfo | None = None) -> datetime:
    """An ISO 8601 time (``Z`` or an offset); a time without one is read in ``zone`` (or UTC).

    Raises ValueError naming the text when it is not a time.
    """
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip()
        if not text:
            raise ValueError("empty time")
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone or UTC)
    return moment.astimezone(UTC)


def parse_impact(value: Any) -> float:
    """An impact between 0 and 1; empty means a full outage (1)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 1.0
    try:
        impact = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"impact {value!r} is not a number between 0 and 1") from None
    if math.isnan(impact) or not 0.0 <= impact <= 1.0:
        raise ValueError(f"impact {value!r} must be between 0 and 1")
    return impact


def parse_length(value: Any) -> timedelta:
    """A duration given as ``45m``/``1h30m`` or as a number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            return parse_duration(text)
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"duration {value!r} must be a positive number of seconds")
    return timedelta(seconds=seconds)


def incident_from_record(
    record: Mapping[str, Any], zone: ZoneInfo | None, default_service: str = ""
) -> Incident:
    """Build an incident from a flat record (file row or API object already mapped).

    Raises ValueError naming the field at fault.
    """
    identifier = _text(record.get("id"))
    if not identifier:
        raise ValueError("id is missing")
    if _text(record.get("start")) == "":
        raise ValueError("start is missing")
    try:
        start = parse_time(record["start"], zone)
    except ValueError as error:
        raise ValueError(f"start: {error}") from None
    end: datetime | None = None
    if _text(record.get("end")):
        try:
            end = parse_time(record["end"], zone)
        except ValueError as error:
            raise ValueError(f"end: {error}") from None
    elif _text(record.get("duration")):
        try:
            end = start + parse_length(record["duration"])
        except ValueError as error:
            raise ValueError(f"duration: {error}") from None
    if end is not None and end < start:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    attributes = {
        str(key): _text(value)
        for key, value in record.items()
        if key not in RECORD_FIELDS and key != "duration" and value is not None
    }
    return Incident(
        id=identifier,
        service=_text(record.get("service")) or default_service,
        title=_text(record.get("title")),
        start=start,
        end=end,
        category=(_text(record.get("category")) or DEFAULT_CATEGORY).lower(),
        impact=parse_impact(record.get("impact")),
        attributes=attributes,
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).strip()


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else an empty list (APIs omit or null empty fields)."""
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty dict."""
    return value if isinstance(value, dict) else {}
