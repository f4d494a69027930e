"""The samples of declared families (``model.metric_family.FamilySpec``) for one exposition."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from ..model.metric_family import FamilySpec


class Family:
    """The samples of one family in one exposition; each sample may carry its own label set.

    A family switched off (an optional one the config leaves out) takes samples and drops them,
    so the code that fills families needs no test of its own.
    """

    __slots__ = ("_sample_name", "metric")

    def __init__(self, spec: FamilySpec, on: bool = True):
        self.metric = Metric(spec.name.removesuffix("_total"), spec.help, spec.kind) if on else None
        self._sample_name = spec.name

    def add(self, labels: dict[str, str], value: float) -> None:
        """Add one sample (none when the family is off)."""
        if self.metric is not None:
            self.metric.add_sample(self._sample_name, labels, float(value))


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


def exposed(families: dict[FamilySpec, Family]) -> Iterator[Metric]:
    """The families that are on, in declared order."""
    return (family.metric for family in families.values() if family.metric is not None)
