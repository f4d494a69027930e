"""The samples of declared families (``model.metric_family.FamilySpec``) for one exposition."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client.core import Metric
from prometheus_client.samples import Sample

from ..model.metric_family import FamilySpec


class Family(Metric):
    """The samples of one family in one exposition; each sample may carry its own label set.

    The samples are held as two columns, label sets and values, which the exposition writer
    reads as they are. ``samples``, what the client library reads (its generators, its
    registry's ``get_sample_value``), is made from them when asked. At 10,000 budgets a
    ``Sample`` tuple per series made building the families two to three times slower: every
    one is an object the garbage collector tracks, and the collections they set off walk the
    whole snapshot (bench/README.md).

    A family switched off (an optional one the config leaves out) takes samples and drops them,
    so the code that fills families needs no test of its own.
    """

    def __init__(self, spec: FamilySpec, on: bool = True):
        # Metric.__init__ is not called: it would start a list of Sample tuples. Every
        # declared name and type is checked by tests/test_metric_catalogue.py instead.
        self.name = spec.name.removesuffix("_total")
        self.documentation = spec.help
        self.type = spec.kind
        self.unit = ""
        self.on = on
        self.sample_name = spec.name
        self.labels: list[dict[str, str]] = []
        # As given (int, bool or float); converted with float() wherever they are read.
        self.values: list[float] = []

    def add(self, labels: dict[str, str], value: float) -> None:
        """Add one sample (none when the family is off)."""
        if self.on:
            self.labels.append(labels)
            self.values.append(value)

    # Read-only, where Metric's is a list anyone may assign: a family's samples come from add().
    @property
    def samples(self) -> list[Sample]:  # type: ignore[override]
        """The samples as the client library reads them, made from the columns."""
        name = self.sample_name
        return [
            Sample(name, labels, float(value))
            for labels, value in zip(self.labels, self.values, strict=True)
        ]


def new_families(
    specs: tuple[FamilySpec, ...], enabled: frozenset[str] | None = None
) -> dict[FamilySpec, Family]:
    """Empty families for ``specs``, keyed by spec; iteration keeps the declared order.

    ``enabled`` names the optional families switched on; None switches on every one.
    """
    return {spec: Family(spec, switched_on(spec.optional, enabled)) for spec in specs}


def switched_on(optional: str, enabled: frozenset[str] | None) -> bool:
    """Whether what ``optional`` names is exported: always when it names nothing, and when
    ``enabled`` (the config's ``series:``; None: everything) holds it."""
    return not optional or enabled is None or optional in enabled


def exposed(families: Mapping[Any, Family]) -> Iterator[Family]:
    """The families that are on, in declared order."""
    return (family for family in families.values() if family.on)
