"""YAML text -> node tree and data, with key paths, line numbers and duplicate keys.

Shared by the config and the web config: safe loading, alias bombs refused before anything
walks the data, and every key path mapped back to its line for error messages.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import yaml

from ..model.errors import ConfigError, ConfigProblem
from ..model.yamlguard import NestingLimit, check_node


class _Loader(NestingLimit, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader, with dates the calendar lacks kept as text and nesting bounded."""


def _timestamp_or_text(loader: Any, node: yaml.ScalarNode) -> Any:
    # 2026-02-30 looks like a date to YAML; as text it reaches validation, which names its key
    # and line and goes on to report every other problem, instead of one error for the file.
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
# Scalar tags whose constructors return a plain value; any other tag (sets, pairs, binary,
# merge keys, unknown tags) is left to PyYAML's own constructor, errors included.
_PLAIN_SCALARS = {
    tag: _Loader.yaml_constructors[tag]
    for tag in (
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:timestamp",
    )
}


@dataclass(frozen=True)
class YamlDocument:
    """A parsed document: its node tree (for line numbers), its data, and whether some
    mapping may give a key twice (only then is ``duplicate_keys`` worth its walk)."""

    node: yaml.Node | None
    data: Any
    repeated_keys: bool = True


@contextmanager
def collection_paused() -> Iterator[None]:
    """Hold the cycle collector while a document is read.

    A config of 10,000 budgets makes a few hundred thousand objects and no cycle; each
    collection the allocations trigger walks all of them again, which took 1.2 of the 1.5 s
    of composing such a document. Reference counting still frees everything as before.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Unusual(Exception):
    """A tag the direct construction leaves to PyYAML's constructor."""


def _construct_tree(loader: Any, root: yaml.Node, nodes: int) -> tuple[Any, bool, bool]:
    """Data of a document built straight from its nodes; ``nodes`` were composed.

    Gives what PyYAML's constructor gives for plain mappings, sequences and scalars, in about
    a fifth of its time (no generators); raises _Unusual for any other tag. Each collection is
    built once and an alias to it gets the same object, as from PyYAML, so the work stays
    within the size of the text whatever the aliases. Also tells whether some mapping repeats
    a key's text, and whether a node was met twice (an alias): only then can later walks of
    the data expand, and the alias measure must pass first.
    """
    repeated = False
    met = 0
    built: dict[int, Any] = {}

    def build(node: yaml.Node) -> Any:
        nonlocal repeated, met
        met += 1
        tag, kind = node.tag, node.__class__
        if kind is yaml.ScalarNode:
            if tag == _STR:
                return node.value
            constructor = _PLAIN_SCALARS.get(tag)
            if constructor is None:
                raise _Unusual
            return constructor(loader, node)
        known = built.get(id(node))
        if known is not None:
            return known
        if kind is yaml.MappingNode and tag == _MAP:
            mapping: dict[Any, Any] = {}
            built[id(node)] = mapping
            text_keys = True
            for key_node, value_node in node.value:
                if key_node.tag != _STR or key_node.__class__ is not yaml.ScalarNode:
                    text_keys = False
                try:
                    mapping[build(key_node)] = build(value_node)
                except TypeError:  # an unhashable key: PyYAML's error names it
                    raise _Unusual from None
            if len(mapping) != len(node.value) or not (text_keys or _distinct_texts(node.value)):
                repeated = True
            return mapping
        if kind is yaml.SequenceNode and tag == _SEQ:
            items: list[Any] = []
            built[id(node)] = items
            items += [build(item) for item in node.value]
            return items
        raise _Unusual

    data = build(root)
    return data, repeated, met > nodes


def _distinct_texts(pairs: list[tuple[yaml.Node, yaml.Node]]) -> bool:
    texts = [key.value for key, _ in pairs if isinstance(key, yaml.ScalarNode)]
    return len(set(texts)) == len(texts)


def parse_yaml(text: str) -> YamlDocument:
    """Parse once (with libyaml when present), keeping the node tree for line numbers."""
    with collection_paused():
        loader = _Loader(text)
        try:
            node = loader.get_single_node()  # nesting is bounded while composing
            if node is None:
                return YamlDocument(None, None, repeated_keys=False)
            try:
                data, repeated, aliased = _construct_tree(loader, node, loader.nodes_composed)
            except _Unusual:
                check_node(node)
                return YamlDocument(node, loader.construct_document(node))
            if aliased:
                check_node(node)  # refuse alias bombs before anything walks the data
            return YamlDocument(node, data, repeated)
        finally:
            loader.dispose()


def parse_yaml_document(text: str, source: str) -> YamlDocument:
    """``parse_yaml``, with text that is not YAML as a ConfigError naming ``source`` and line."""
    try:
        return parse_yaml(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(error, "problem", None) or str(error)
        raise ConfigError([ConfigProblem(source, "", f"invalid YAML: {reason}", line)]) from None


def load_yaml_document(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    """``parse_yaml_document`` as a pair: the node tree and the data."""
    document = parse_yaml_document(text, source)
    return document.node, document.data


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
