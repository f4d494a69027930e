"""What the incident providers that read an HTTP API share: settings, client, errors, helpers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from ...model.bad_rows import BadRow, BadRows
from ...model.errors import ProviderError
from ..support.http import HttpClient
from .api_config import ApiIncidentConfig
from .base import IncidentProvider, parse_time

ApiConfigT = TypeVar("ApiConfigT", bound=ApiIncidentConfig)


class ApiIncidentProvider(IncidentProvider[ApiConfigT]):
    """An incident provider that reads an HTTP API through ``self.client``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client = HttpClient(self.name, timeout=self.settings.timeout, **self.client_options())

    def client_options(self) -> dict[str, Any]:
        """Extra ``HttpClient`` arguments (retry policy, headers); none by default."""
        return {}

    def malformed(self, url: str, expected: str) -> ProviderError:
        """The error for an answer that is not the ``expected`` shape."""
        return ProviderError(
            f"provider {self.name}: GET {url} answered a malformed payload: expected {expected}"
        )

    def bad_row(self, position: int, error: ValueError) -> BadRows:
        """The bad-row count for the unusable incident at ``position``."""
        return BadRows(1, (BadRow(f"provider {self.name}", position, str(error)),))


def text(value: Any) -> str:
    """An API field as text, as sent; empty when absent."""
    return "" if value is None else str(value)


def created_before(item: Any, key: str, since: datetime) -> bool:
    """Whether the time at ``item[key]`` is before ``since``; False when it has no such time."""
    try:
        return parse_time(item[key]) < since
    except (KeyError, TypeError, ValueError):
        return False
