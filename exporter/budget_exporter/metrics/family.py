"""The samples of declared families (``model.metric_family.FamilySpec``) for one exposition."""

from __future__ import annotations

from prometheus_client.core import Metric

from ..model.metric_family import FamilySpec


class Family:
    """The samples of one family in one exposition; each sample may carry its own label set."""

    __slots__ = ("_sample_name", "metric")

    def __init__(self, spec: FamilySpec):
        self.metric = Metric(spec.name.removesuffix("_total"), spec.help, spec.kind)
        self._sample_name = spec.name

    def add(self, labels: dict[str, str], value: float) -> None:
        """Add one sample."""
        self.metric.add_sample(self._sample_name, labels, float(value))


def new_families(specs: tuple[FamilySpec, ...]) -> dict[FamilySpec, Family]:
    """Empty families for ``specs``, keyed by spec; iteration keeps the declared order."""
    return {spec: Family(spec) for spec in specs}
