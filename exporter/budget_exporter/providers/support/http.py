"""HTTP for API providers: timeouts, retries with backoff and jitter, clear errors, no secrets.

Retries happen on connection errors, 429 and 5xx, honouring ``Retry-After`` (and any extra
headers a provider names); other 4xx answers fail at once with the provider's name and a hint,
since retrying a bad token only burns quota.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from ...model.errors import ProviderError

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
AUTH_HINTS = {
    401: "the credentials were rejected: check the token or key",
    403: "the credentials lack permission for this call",
    404: "the URL or resource id is wrong",
}


@dataclass
class RetryPolicy:
    """How often and how long to retry."""

    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 60.0
    retry_after_headers: tuple[str, ...] = ("Retry-After",)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)


def _retry_after_seconds(response: requests.Response, headers: Iterable[str]) -> float | None:
    """The longest wait any of ``headers`` asks for, in seconds."""
    waits = []
    for name in headers:
        value = response.headers.get(name)
        if not value:
            continue
        try:
            waits.append(float(value))
            continue
        except ValueError:
            pass
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is not None:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            waits.append(max(0.0, (parsed - datetime.now(UTC)).total_seconds()))
    return max(waits) if waits else None


def safe_url(url: str) -> str:
    """``url`` as errors and logs may show it: no query string, no user name or password."""
    bare = url.split("?", 1)[0].split("#", 1)[0]
    scheme, sep, rest = bare.partition("://")
    if not sep:
        return bare
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"


class HttpClient:
    """A ``requests`` session bound to one provider, with retries and safe error messages."""

    def __init__(
        self,
        provider: str,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
    ):
        self.provider = provider
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.session = session or requests.Session()
        if headers:
            self.session.headers.update(headers)
        self.requests_made = 0

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send a request; retry what can succeed later; raise ProviderError otherwise.

        Error messages carry the method, the URL without its query string or user info and
        the status, never headers or bodies that could hold credentials.
        """
        where = f"{method} {safe_url(url)}"
        delay = self.retry.base_delay
        for attempt in range(1, self.retry.attempts + 1):
            self.requests_made += 1
            try:
                response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as error:
                reason = "timed out" if isinstance(error, requests.Timeout) else "connection failed"
                if attempt == self.retry.attempts:
                    raise ProviderError(
                        f"provider {self.provider}: {where} {reason} after {attempt} attempts"
                    ) from None
                self._wait(delay, None, where, reason, attempt)
                delay = min(delay * 2, self.retry.max_delay)
                continue
            except (requests.RequestException, ValueError) as error:
                # An invalid header or URL: requests quotes the header value (a key) in its
                # message, so only the kind of error is told.
                raise ProviderError(
                    f"provider {self.provider}: {where} could not be sent "
                    f"({type(error).__name__}): check the URL and the secret settings"
                ) from None
            if response.status_code < 400:
                return response
            if response.status_code in RETRY_STATUSES and attempt < self.retry.attempts:
                wait = _retry_after_seconds(response, self.retry.retry_after_headers)
                self._wait(delay, wait, where, f"HTTP {response.status_code}", attempt)
                delay = min(delay * 2, self.retry.max_delay)
                continue
            hint = AUTH_HINTS.get(response.status_code, "")
            suffix = f" after {attempt} attempts" if response.status_code in RETRY_STATUSES else ""
            raise ProviderError(
                f"provider {self.provider}: {where} answered HTTP {response.status_code}{suffix}"
                + (f": {hint}" if hint else "")
            )
        raise AssertionError("unreachable")

    def get_json(self, url: str, **kwargs: Any) -> Any:
        """GET and decode a JSON answer; a body that is not JSON is a ProviderError."""
        response = self.request("GET", url, **kwargs)
        return self._json(response, f"GET {safe_url(url)}")

    def post_json(self, url: str, **kwargs: Any) -> Any:
        """POST and decode a JSON answer."""
        response = self.request("POST", url, **kwargs)
        return self._json(response, f"POST {safe_url(url)}")

    def _json(self, response: requests.Response, where: str) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ProviderError(
                f"provider {self.provider}: {where} answered with a body that is not JSON"
            ) from None

    def _wait(
        self, backoff: float, asked: float | None, where: str, reason: str, attempt: int
    ) -> None:
        # Full jitter spreads retries of several exporters hitting the same API.
        wait = asked if asked is not None else random.uniform(0, backoff)
        wait = min(wait, self.retry.max_delay)
        log.warning(
            "provider %s: %s %s (attempt %d), retrying in %.1fs",
            self.provider,
            where,
            reason,
            attempt,
            wait,
        )
        self.retry.sleep(wait)
