"""Building blocks shared by the configuration models of the exporter and of each provider."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    SecretStr,
)

from .periods import format_duration, parse_duration

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class StrictModel(BaseModel):
    """A frozen model that rejects unknown keys, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _to_timedelta(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("durations need a unit, for example 90s, 1h or 30d")
    return value


# Ten years: longer than any budget period, SLO window or history anyone keeps, and far from
# where adding a duration to a date overflows (``refresh_interval: 8000y`` passed and then
# stopped every refresh with OverflowError).
MAX_DURATION = timedelta(days=3660)


def _bounded(value: timedelta) -> timedelta:
    if value > MAX_DURATION:
        raise ValueError(f"must be at most {format_duration(MAX_DURATION)} (10 years)")
    if value < timedelta(0):
        raise ValueError("must not be negative")
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_timedelta),
    AfterValidator(_bounded),
    PlainSerializer(format_duration, return_type=str),
]
# A wait for one answer: longer than this has failed, and would hold a refresh for as long.
MAX_WAIT = timedelta(hours=1)


def is_wait_setting(name: str) -> bool:
    """Settings that say how long to wait for one answer (``timeout``, ``poll_interval``)."""
    return name.endswith("timeout") or name == "poll_interval"


def _scalar_to_str(value: Any) -> Any:
    # YAML reads account ids such as 1234567890123 as numbers; filters compare text.
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return value


ScalarText = Annotated[str, BeforeValidator(_scalar_to_str)]


def _one_or_many(value: Any) -> Any:
    if isinstance(value, str | int | float | bool):
        return [value]
    return value


TextList = Annotated[tuple[ScalarText, ...], BeforeValidator(_one_or_many)]


def _known_zone(value: str) -> str:
    # Checked with the config, not at the first refresh, so `check` reports it.
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a folder of the zone database such as "Europe" is not a zone.
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name such as Europe/Paris"
        ) from None
    return value


ZoneName = Annotated[str, AfterValidator(_known_zone)]


_URL_CREDENTIALS = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^/?#\s]*@")
# Anything but printable ASCII: a CR or LF would split an HTTP header (and requests quotes the
# whole header in its error), other bytes fail to encode with their position.
_NOT_HEADER_SAFE = re.compile(r"[^\x20-\x7e]")


def url_has_credentials(text: str) -> bool:
    """Whether ``text`` is a URL with a user name or password before its host."""
    return bool(_URL_CREDENTIALS.match(text))


def read_secret(value: SecretStr | None, file: Path | None, base_dir: str, what: str) -> str | None:
    """Return a secret given inline (already expanded from ``${ENV}``) or read from a file.

    A relative ``file`` is read from ``base_dir``, the folder of the config file, as every
    other path of the config. ``what`` names the setting, as in ``provider pd: token_file``;
    error messages name it and the file, never the secret. A secret must be one line of
    printable ASCII, as tokens, keys and client secrets are: anything else could not be sent
    in a header, and the errors of HTTP libraries would quote it.
    """
    if file is not None:
        path = file.expanduser()
        if not path.is_absolute():
            path = Path(base_dir) / path
        origin = f"secret file {path}"
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ValueError(f"{what}: cannot read {origin}: {error.strerror}") from None
        except UnicodeDecodeError as error:
            raise ValueError(f"{what}: {origin} is not UTF-8 text (byte {error.start})") from None
    elif value is not None:
        what, origin = what.removesuffix("_file"), "the secret"
        secret = value.get_secret_value().strip()
    else:
        return None
    if not secret:
        raise ValueError(f"{what}: {origin} is empty")
    bad = _NOT_HEADER_SAFE.search(secret)
    if bad is not None:
        kind = (
            "a line break" if bad.group() in "\r\n" else "a character that is not printable ASCII"
        )
        raise ValueError(
            f"{what}: {origin} holds {kind} at character {bad.start() + 1}; "
            "a secret is one line of printable ASCII"
        )
    return secret


ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(text: str) -> tuple[str, list[str]]:
    """Replace ``${NAME}`` with the environment variable's value; return the missing names."""
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            missing.append(name)
            return ""
        return os.environ[name]

    return ENV_REFERENCE.sub(substitute, text), missing


def redact_env(message: str, source: str) -> str:
    """Put ``${NAME}`` back in place of the values of variables that ``source`` references.

    Validators quote bad values, and a value from the environment may be a secret. Values
    under 4 characters are left alone: no secret is that short, and they would mangle text.
    """
    values = {
        os.environ[name]: f"${{{name}}}"
        for name in set(ENV_REFERENCE.findall(source))
        if len(os.environ.get(name, "")) >= 4
    }
    for value in sorted(values, key=len, reverse=True):
        message = message.replace(value, values[value])
    return message
