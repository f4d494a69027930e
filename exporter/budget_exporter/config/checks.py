"""Checks the schema alone cannot make: each provider's own settings, references between
sections, unique names, an acyclic hierarchy, SLO windows within their provider's lookback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..model.fields import NAME
from ..model.periods import format_duration, parse_duration
from ..providers.settings import COST_SETTINGS, INCIDENT_SETTINGS, ProviderConfig
from .schema import SEVERITY_LADDER
from .yaml_source import format_path

if TYPE_CHECKING:
    from .schema import Config


def validation_message(item: Any) -> str:
    message = str(item["msg"])
    if item["type"] == "extra_forbidden":
        return "unknown key (check its spelling)"
    if item["type"] == "missing":
        return "required key is missing"
    return message.removeprefix("Value error, ")


def validate_providers(raw: dict[str, Any], problems: list[tuple[str, str]]) -> set[str]:
    """Validate each provider with its own model; put the models back into ``raw``."""
    providers = raw.get("providers")
    if not isinstance(providers, dict):
        return set()
    validated: dict[str, ProviderConfig] = {}
    for name, settings in providers.items():
        where = format_path(["providers", str(name)])
        if not NAME.match(str(name)):
            problems.append((where, "provider names use letters, digits, '_', '-' and '.'"))
        if not isinstance(settings, dict):
            problems.append((where, "must be a mapping with at least a type"))
            continue
        kind = settings.get("type")
        model = COST_SETTINGS.get(str(kind)) or INCIDENT_SETTINGS.get(str(kind))
        if model is None:
            known = ", ".join(sorted([*COST_SETTINGS, *INCIDENT_SETTINGS]))
            what = "required key is missing" if kind is None else f"unknown provider type {kind!r}"
            problems.append((f"{where}.type", f"{what}; known types: {known}"))
            continue
        try:
            validated[str(name)] = model.model_validate(settings)
        except ValidationError as error:
            for item in error.errors(include_input=False, include_url=False):
                problems.append(
                    (format_path(["providers", str(name), *item["loc"]]), validation_message(item))
                )
    if validated or not providers:
        raw["providers"] = validated
    else:
        del raw["providers"]  # every provider was invalid: already reported above
    return {str(name) for name in providers}


def declared_provider_types(raw: dict[str, Any]) -> dict[str, str]:
    """Each provider's declared type, read before validation replaces the settings."""
    providers = raw.get("providers")
    if not isinstance(providers, dict):
        return {}
    return {
        str(name): str(settings.get("type"))
        for name, settings in providers.items()
        if isinstance(settings, dict)
    }


def source_checks(raw: dict[str, Any], types: dict[str, str]) -> list[tuple[str, str]]:
    """Budgets read cost providers and SLOs incident providers; SLO names are unique."""
    problems: list[tuple[str, str]] = []
    incident_sources = {name for name, kind in types.items() if kind in INCIDENT_SETTINGS}
    budgets = raw.get("budgets")
    for index, budget in enumerate(budgets if isinstance(budgets, list) else []):
        provider = budget.get("provider") if isinstance(budget, dict) else None
        if provider is not None and str(provider) in incident_sources:
            problems.append(
                (
                    f"budgets[{index}].provider",
                    f"provider {provider!r} is an incident source (type "
                    f"{types[str(provider)]}); budgets need a cost provider",
                )
            )
    slos = raw.get("slos")
    names: dict[str, int] = {}
    for index, slo in enumerate(slos if isinstance(slos, list) else []):
        if not isinstance(slo, dict):
            continue
        name = slo.get("name")
        if isinstance(name, str):
            if name in names:
                problems.append(
                    (
                        f"slos[{index}].name",
                        f"duplicate SLO name {name!r} (also slos[{names[name]}])",
                    )
                )
            names.setdefault(name, index)
        provider = slo.get("provider")
        if provider is None or not types:
            continue
        if str(provider) not in types:
            defined = ", ".join(sorted(incident_sources)) or "none"
            problems.append(
                (
                    f"slos[{index}].provider",
                    f"unknown provider {provider!r}; incident providers defined: {defined}",
                )
            )
        elif str(provider) not in incident_sources:
            known = ", ".join(sorted(INCIDENT_SETTINGS))
            problems.append(
                (
                    f"slos[{index}].provider",
                    f"provider {provider!r} is a cost source (type {types[str(provider)]}); "
                    f"SLOs need an incident provider ({known})",
                )
            )
        else:
            problems.extend(_lookback_check(raw, slo, index, str(provider)))
    return problems


def _lookback_check(
    raw: dict[str, Any], slo: dict[str, Any], index: int, provider: str
) -> list[tuple[str, str]]:
    """An SLO window longer than its provider's lookback would miss older incidents."""
    settings = raw.get("providers", {}).get(provider)
    lookback = getattr(settings, "lookback", None)
    if lookback is None or not isinstance(slo.get("window"), str):
        return []
    try:
        window = parse_duration(slo["window"])
    except ValueError:
        return []  # reported by the model
    if window <= lookback:
        return []
    return [
        (
            f"slos[{index}].window",
            f"window {slo['window']} is longer than provider {provider!r} looks back "
            f"({format_duration(lookback)}); raise the provider's lookback",
        )
    ]


def cross_checks(raw: dict[str, Any], provider_names: set[str]) -> list[tuple[str, str]]:
    """Checks between sections: names unique, references resolve, hierarchy has no cycle."""
    problems: list[tuple[str, str]] = []
    budgets = raw.get("budgets")
    if not isinstance(budgets, list):
        return problems
    names: dict[str, int] = {}
    parents: dict[str, str] = {}
    for index, budget in enumerate(budgets):
        if not isinstance(budget, dict):
            continue
        name = budget.get("name")
        if isinstance(name, str):
            if name in names:
                problems.append(
                    (
                        f"budgets[{index}].name",
                        f"duplicate budget name {name!r} (also budgets[{names[name]}])",
                    )
                )
            else:
                names[name] = index
        provider = budget.get("provider")
        if provider is not None and provider_names and str(provider) not in provider_names:
            problems.append(
                (
                    f"budgets[{index}].provider",
                    f"unknown provider {provider!r}; defined: {', '.join(sorted(provider_names))}",
                )
            )
        parent = budget.get("parent")
        if isinstance(name, str) and isinstance(parent, str):
            parents[name] = parent
    for child, parent in parents.items():
        index = names[child]
        if parent not in names:
            problems.append((f"budgets[{index}].parent", f"unknown parent budget {parent!r}"))
            continue
        if "{value}" in parent:
            problems.append(
                (
                    f"budgets[{index}].parent",
                    f"{parent!r} is a template: its budgets are made from the data, so none can "
                    "be a parent",
                )
            )
            continue
        chain = [child]
        current = parent
        while current in parents and current not in chain:
            chain.append(current)
            current = parents[current]
        # Report each cycle once, at its alphabetically first member.
        if current == child and child == min(chain):
            cycle = " -> ".join([*chain, current])
            problems.append((f"budgets[{index}].parent", f"budget hierarchy has a cycle: {cycle}"))
    return problems


def threshold_warnings(config: Config) -> list[str]:
    """Threshold names off the severity ladder: their alerts route as no rung does."""
    warnings = []
    named = [("thresholds", config.thresholds)] + [
        (f"budget {budget.name!r}", budget.thresholds)
        for budget in config.budgets
        if budget.thresholds is not None
    ]
    for where, thresholds in named:
        for severity in thresholds:
            if severity not in SEVERITY_LADDER:
                warnings.append(
                    f"{where}: threshold {severity!r} is not on the severity ladder "
                    f"({', '.join(SEVERITY_LADDER)}): its alerts are not routed or inhibited as a "
                    "rung (BudgetExporterThresholdSeverityUnknown fires); rename it to a rung"
                )
    return warnings
