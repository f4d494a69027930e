"""Every metric family the exporter declares, in exposition order, and the references it makes.

``python -m budget_exporter.metrics.catalogue`` prints docs/metrics.md, and with ``--summary``
the table between the ``metrics`` markers of README.md; the tests check that both committed
texts are what this prints, and that the exposition holds exactly these families.
"""

from __future__ import annotations

import sys

from ..model.metric_family import IDENTITY_LABELS, FamilySpec
from ..providers.registry import COST_PROVIDERS, INCIDENT_PROVIDERS
from . import anomaly, budgets, exporter, forecast, insights, slo

SECTIONS: tuple[tuple[str, tuple[FamilySpec, ...]], ...] = (
    ("Budgets", budgets.FAMILIES),
    ("Forecasts and anomalies", forecast.FAMILIES + anomaly.FAMILIES),
    ("Planning and insights", insights.FAMILIES),
    ("Currency", budgets.CURRENCY_FAMILIES),
    ("Error budgets (SLOs)", slo.FAMILIES),
    ("The exporter and its providers", exporter.FAMILIES),
    (
        "Provider-specific",
        # dict.fromkeys: providers of one kind share some families; each is listed once.
        tuple(
            dict.fromkeys(
                [spec for provider in COST_PROVIDERS.values() for spec in provider.families]
                + [spec for provider in INCIDENT_PROVIDERS.values() for spec in provider.families]
            )
        ),
    ),
)
FAMILIES: tuple[FamilySpec, ...] = tuple(spec for _, specs in SECTIONS for spec in specs)

_SCOPE_TEXT = {"budget": "budget", "slo": "SLO", "provider": "provider", "exporter": "exporter"}


def reference() -> str:
    """The metric reference as Markdown (docs/metrics.md)."""
    lines = [
        "# Metrics",
        "",
        "Generated from the family declarations beside the code that fills them",
        "(`exporter/budget_exporter/metrics/`, and providers' own `families`) by",
        "`python -m budget_exporter.metrics.catalogue > docs/metrics.md`: do not edit by hand.",
        "",
        "Column *per* says whose series a family holds, and so the labels every sample carries",
        "besides those listed: per budget, `budget` and the budget's own `labels:`; per SLO,",
        "`slo` and its own labels; per provider, `provider` (its name in the config) and",
        "`type`. Money is in the reporting currency, named by the `currency` label.",
        "",
    ]
    for title, specs in SECTIONS:
        if not specs:
            continue
        lines += [
            f"## {title}",
            "",
            "| metric | type | per | labels | meaning |",
            "| --- | --- | --- | --- | --- |",
        ]
        for spec in specs:
            labels = ", ".join(f"`{label}`" for label in spec.labels) or "-"
            help_text = spec.help.replace("|", "\\|")
            if spec.optional:
                help_text += f" *Optional: `series: {{{spec.optional}: true}}`.*"
            lines.append(
                f"| `{spec.name}` | {spec.kind} | {_SCOPE_TEXT[spec.scope]} | {labels} | "
                f"{help_text} |"
            )
        lines.append("")
    return "\n".join(lines)


def summary() -> str:
    """The README's table: the families of each section, without their help."""
    lines = ["| group | metrics |", "| --- | --- |"]
    for title, specs in SECTIONS:
        if specs:
            lines.append(f"| {title} | " + ", ".join(f"`{spec.name}`" for spec in specs) + " |")
    return "\n".join(lines) + "\n"


def identity_labels(spec: FamilySpec) -> tuple[str, ...]:
    """The labels every sample of ``spec`` carries besides its declared ones."""
    return IDENTITY_LABELS[spec.scope]


if __name__ == "__main__":
    print(summary() if sys.argv[1:] == ["--summary"] else reference(), end="")
