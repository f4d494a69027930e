"""Config file -> validated ``Config``; raises ConfigError listing every problem at once.

Each problem names file, line and key path; ``${ENV}`` references are expanded first, and
their values never appear in messages.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..model.errors import ConfigError, ConfigProblem
from ..model.fields import (
    expand_env,
    redact_env,
)
from .checks import (
    cross_checks,
    declared_provider_types,
    source_checks,
    validate_providers,
    validation_message,
)
from .planning import UNION_TAGS
from .schema import Config
from .yaml_source import (
    LineIndex,
    collection_paused,
    duplicate_keys,
    format_path,
    parse_yaml_document,
)

DEMO_CONFIG = "demo/demo.yml"


def demo_config_path() -> Path:
    """Path of the bundled demo config."""
    return Path(str(resources.files("budget_exporter").joinpath(DEMO_CONFIG)))


def load_config(path: str | Path | None) -> Config:
    """Read and validate a config file (the bundled demo config when ``path`` is None)."""
    file = Path(path) if path is not None else demo_config_path()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            [ConfigProblem(str(file), "", f"cannot read: {error.strerror}")]
        ) from None
    except UnicodeDecodeError as error:
        line = file.read_bytes()[: error.start].count(b"\n") + 1
        raise ConfigError(
            [ConfigProblem(str(file), "", f"not UTF-8 text (byte {error.start})", line)]
        ) from None
    return parse_config(text, str(file), str(file.resolve().parent))


def parse_config(text: str, source: str = "<config>", base_dir: str = ".") -> Config:
    """Validate config text; raise ConfigError listing every problem found."""
    with collection_paused():  # tens of thousands of models and dicts, no cycle among them
        return _parse_config(text, source, base_dir)


def _parse_config(text: str, source: str, base_dir: str) -> Config:
    document = parse_yaml_document(text, source)
    node, raw = document.node, document.data
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([ConfigProblem(source, "", "the config must be a mapping of keys", 1)])

    problems: list[tuple[str, str]] = duplicate_keys(node, ()) if document.repeated_keys else []
    if may_name_variables(text):
        raw = expand_environment(raw, (), problems)
    provider_types = declared_provider_types(raw)
    provider_names = validate_providers(raw, problems)
    problems.extend(cross_checks(raw, provider_names))
    problems.extend(source_checks(raw, provider_types))
    config: Config | None = None
    try:
        config = Config.model_validate(raw)
    except ValidationError as error:
        for item in error.errors(include_input=False, include_url=False):
            path = format_path([part for part in item["loc"] if part not in UNION_TAGS])
            if path == "providers" and provider_names and "providers" not in raw:
                continue  # every provider was invalid, and each was reported
            problems.append((path, validation_message(item)))
    if problems:
        unique = list(dict.fromkeys(problems))
        lines = LineIndex(node)
        raise ConfigError(
            [
                ConfigProblem(source, path, redact_env(message, text), lines.line_of(path))
                for path, message in unique
            ]
        )
    assert config is not None
    config._source = source
    config._base_dir = base_dir
    return config


# "${" reaches a value only from a "$" in the text or a double-quoted escape of one.
_DOLLAR_ESCAPE = re.compile(r"\\(?:x24|u0024|U00000024)")


def may_name_variables(text: str) -> bool:
    """False only when no value of ``text`` can hold a ``${VAR}`` reference."""
    return "$" in text or ("\\" in text and _DOLLAR_ESCAPE.search(text) is not None)


def expand_environment(value: Any, loc: tuple[Any, ...], problems: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        if "${" not in value:
            return value
        expanded, missing = expand_env(value)
        for name in missing:
            problems.append((format_path(loc), f"environment variable {name} is not set"))
        return expanded
    if isinstance(value, dict):
        return {key: expand_environment(item, (*loc, key), problems) for key, item in value.items()}
    if isinstance(value, list):
        return [expand_environment(item, (*loc, i), problems) for i, item in enumerate(value)]
    return value
