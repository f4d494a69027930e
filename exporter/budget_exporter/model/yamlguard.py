"""Limits on YAML documents: aliases that expand too much and nesting that is too deep.

PyYAML shares the object an alias points to, so a "billion laughs" document loads into little
memory; every walk over the loaded data (environment expansion, validation, line lookup) follows
each alias again, though, and would take hours. Documents whose nodes are shared are measured
on their node graph first; the nesting of every document is bounded while it is composed.
"""

from __future__ import annotations

from typing import Any

import yaml

# A config with 10,000 budgets has a few hundred thousand nodes; anchors legitimately shared
# by many budgets add a few times that. A bomb adds orders of magnitude.
MAX_EXPANDED_NODES = 2_000_000
MAX_DEPTH = 64


class YamlRefused(yaml.YAMLError):
    """A document refused before loading; mimics the attributes of PyYAML's own errors."""

    def __init__(self, problem: str, mark: Any = None):
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


def too_deep(mark: Any, max_depth: int = MAX_DEPTH) -> YamlRefused:
    """The refusal of a document that nests deeper than ``max_depth``, at ``mark``."""
    return YamlRefused(f"the document nests deeper than {max_depth} levels", mark)


class NestingLimit:
    """Loader mixin: refuses nesting deeper than MAX_DEPTH while the document is composed, and
    counts the nodes composed.

    PyYAML's composers (libyaml's and the Python one) call ``descend_resolver`` before each
    node they compose, aliases excepted, and ``ascend_resolver`` after it; the safe loader
    resolves no paths, so both are free to count. A walk of the document that meets more nodes
    than ``nodes_composed`` has met one twice: an alias. Nesting reached through aliases is
    measured by ``check_node``.
    """

    _depth = 0
    nodes_composed = 0

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        self.nodes_composed += 1
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise too_deep(current_node.start_mark if current_node is not None else None)

    def ascend_resolver(self) -> None:
        self._depth -= 1


def check_node(
    node: yaml.Node | None, max_nodes: int = MAX_EXPANDED_NODES, max_depth: int = MAX_DEPTH
) -> None:
    """Raise YamlRefused when ``node`` expands to more than ``max_nodes`` or nests too deep."""
    if node is None:
        return
    # Expanded size and height of each collection, memoized per node object (aliases share
    # nodes). The walk refuses a path longer than max_depth before descending it, so its own
    # recursion stays within max_depth calls.
    measured: dict[int, tuple[int, int]] = {}
    on_path: set[int] = set()

    def measure(current: yaml.Node, level: int) -> tuple[int, int]:
        key = id(current)
        known = measured.get(key)
        if known is not None:
            if level + known[1] - 1 > max_depth:
                raise too_deep(current.start_mark, max_depth)
            return known
        if level > max_depth:
            raise too_deep(current.start_mark, max_depth)
        if isinstance(current, yaml.ScalarNode):
            return 1, 1
        if key in on_path:
            raise YamlRefused("an alias refers to a node that contains it", current.start_mark)
        on_path.add(key)
        size, height = 1, 0
        below = level + 1
        children = (
            [part for pair in current.value for part in pair]
            if isinstance(current, yaml.MappingNode)
            else current.value
        )
        for child in children:
            child_size, child_height = measure(child, below)
            size += child_size
            height = max(height, child_height)
        on_path.discard(key)
        if size > max_nodes:
            raise YamlRefused(
                f"aliases expand the document to more than {max_nodes:,} values "
                "(an alias bomb?); write the values out or share fewer anchors",
                current.start_mark,
            )
        measured[key] = (size, height + 1)
        return size, height + 1

    measure(node, 1)
