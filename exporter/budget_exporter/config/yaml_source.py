"""YAML text -> node tree and data, with key paths, line numbers and duplicate keys.

Shared by the config and the web config: safe loading, alias bombs refused before anything
walks the data, and every key path mapped back to its line for error messages.
"""

from __future__ import annotations

from typing import Any

import yaml

from ..model.errors import ConfigError, ConfigProblem
from ..model.yamlguard import check_node


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader, with dates the calendar lacks kept as text."""


def _timestamp_or_text(loader: Any, node: yaml.ScalarNode) -> Any:
    # 2026-02-30 looks like a date to YAML; as text it reaches validation, which names its key
    # and line and goes on to report every other problem, instead of one error for the file.
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


def load_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """Parse once (with libyaml when present), keeping the node tree for line numbers."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        check_node(node)  # refuse alias bombs before anything walks the data
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return node, data


def load_yaml_document(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    """``load_yaml``, with text that is not YAML as a ConfigError naming ``source`` and line."""
    try:
        return load_yaml(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(error, "problem", None) or str(error)
        raise ConfigError([ConfigProblem(source, "", f"invalid YAML: {reason}", line)]) from None


def duplicate_keys(
    node: yaml.Node | None, loc: tuple[Any, ...], visited: set[int] | None = None
) -> list[tuple[str, str]]:
    """Keys given twice in one mapping: YAML would keep the last one and hide the first."""
    problems: list[tuple[str, str]] = []
    # An anchored node is checked once, where it is defined, however often it is aliased.
    visited = set() if visited is None else visited
    if node is None or id(node) in visited:
        return problems
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        # Keys merged in with `<<: *anchor` may be overridden; they sit outside this mapping.
        own = range(node.start_mark.index, node.end_mark.index)
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.start_mark.index in own:
                if key.value in seen:
                    path = format_path([*loc, key.value])
                    problems.append((path, "key given twice; only one may stay"))
                seen.add(key.value)
            problems.extend(duplicate_keys(value, (*loc, key.value), visited))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems.extend(duplicate_keys(item, (*loc, index), visited))
    return problems


def format_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """Render a location as ``budgets[2].filter["tags.env"]``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif any(char in str(part) for char in '. []"'):
            text += f'["{part}"]'
        else:
            text += f".{part}" if text else str(part)
    return text


def split_path(path: str) -> list[Any]:
    # Inverse of format_path for the simple paths produced while walking the YAML.
    parts: list[Any] = []
    token = ""
    index = 0
    while index < len(path):
        char = path[index]
        if char == ".":
            if token:
                parts.append(token)
            token = ""
        elif char == "[":
            if token:
                parts.append(token)
            token = ""
            close = path.index("]", index)
            inner = path[index + 1 : close]
            parts.append(inner.strip('"') if inner.startswith('"') else int(inner))
            index = close
        else:
            token += char
        index += 1
    if token:
        parts.append(token)
    return parts


class LineIndex:
    """Maps key paths to line numbers in the YAML text, for error messages."""

    def __init__(self, node: yaml.Node | None):
        self._lines: dict[str, int] = {}
        if node is not None:
            self._walk(node, [])

    def _walk(self, node: yaml.Node, path: list[Any]) -> None:
        self._lines[format_path(path)] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = [*path, key.value]
                self._lines[format_path(child)] = key.start_mark.line + 1
                self._walk(value, child)
                self._lines[format_path(child)] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._walk(item, [*path, index])

    def line_of(self, path: str) -> int | None:
        """Line of the deepest known prefix of ``path``."""
        try:
            parts = split_path(path) if path else []
        except ValueError:  # a key with brackets or quotes of its own: no line, no crash
            return None
        while parts:
            line = self._lines.get(format_path(parts))
            if line is not None:
                return line
            parts.pop()
        return None
