"""How a metric family is declared: once, beside the code that fills it.

Each metrics module declares its families as ``FamilySpec`` constants (name, type, help, labels)
and lists them in ``FAMILIES`` in exposition order; a provider that reports figures of its own
declares them the same way, in its ``families``. ``metrics.catalogue`` gathers them all, and
the metric reference (docs/metrics.md) and the tests read them from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Whose series a family holds, and so the identity labels every sample carries:
#   budget    budget, plus the budget's own configured labels
#   slo       slo, plus the SLO's own configured labels
#   provider  provider and type (the provider's name and its type: in the config)
#   exporter  none: one series for the whole exporter
Scope = Literal["budget", "slo", "provider", "exporter"]
IDENTITY_LABELS: dict[Scope, tuple[str, ...]] = {
    "budget": ("budget",),
    "slo": ("slo",),
    "provider": ("provider", "type"),
    "exporter": (),
}


# eq=False: specs are looked up by identity when filling, thousands of times per exposition.
@dataclass(frozen=True, eq=False)
class FamilySpec:
    """One metric family: what ``# HELP`` and ``# TYPE`` say, and the labels of its samples.

    ``name`` is the sample name as queried (counters end in ``_total``); ``labels`` are the
    labels besides the scope's identity labels, in the order they are documented.
    """

    name: str
    help: str
    scope: Scope
    labels: tuple[str, ...] = ()
    kind: Literal["gauge", "counter"] = "gauge"
    # The ``series:`` setting that switches this family on; empty: always exported.
    optional: str = ""


@dataclass(frozen=True)
class ProviderMetric:
    """One provider-specific sample, rendered beside the generic provider metrics.

    The exporter adds the ``provider`` and ``type`` labels, so ``labels`` holds only the
    provider's own ones (those of ``spec.labels``).
    """

    spec: FamilySpec
    value: float
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        """The sample name."""
        return self.spec.name
