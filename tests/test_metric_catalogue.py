"""Each metric family is declared once, and the exposition and the reference follow the declaration.

The exposition of the demo (which exercises budgets, forecasts, planning, hierarchy and SLOs) and
of the FOCUS sample must hold exactly the declared families, with the declared type and help, and
every sample exactly the declared labels plus its scope's identity and the budget's or SLO's own
labels. docs/metrics.md must be what the catalogue prints.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime

from prometheus_client.parser import text_string_to_metric_families

from budget_exporter.config.loader import load_config
from budget_exporter.config.schema import Config
from budget_exporter.metrics.catalogue import (
    FAMILIES,
    SECTIONS,
    identity_labels,
    reference,
    summary,
)
from budget_exporter.metrics.exposition import render
from budget_exporter.service.refresh import Refresher
from conftest import ROOT

# A day whose newest data holds a spike, so the anomaly contributor families are there too.
DEMO_AT = datetime.fromisoformat("2026-11-12T12:00:00+00:00")
FOCUS_AT = datetime.fromisoformat("2024-09-20T12:00:00+00:00")
BY_NAME = {spec.name: spec for spec in FAMILIES}

# Declared families the demo's exposition does not hold, and why; the test fails when one of
# them shows up (then delete its line) or when another one goes missing.
ABSENT_FROM_DEMO = {
    "budget_exchange_rate": "the demo reports in one currency",
    "budget_new_purchase_spend": "the demo's Savings Plan renews every month: never new",
    "budget_reserved": "there only while reservations hold money; the demo takes none",
    "budget_data_as_of_timestamp_seconds": "each demo budget's is its provider's newest data",
    "budget_exporter_provider_api_requests_total": "reported by paid-API providers only",
    "budget_exporter_provider_api_cost_usd_total": "reported by paid-API providers only",
    "budget_exporter_provider_api_requests_month": "reported by aws_cost_explorer only",
    "budget_exporter_provider_api_requests_month_limit": "reported by aws_cost_explorer only",
    "budget_exporter_provider_forecast_spend": "reported by aws_cost_explorer only",
    "budget_exporter_provider_query_scanned_bytes_total": "reported by aws_athena only",
    "budget_exporter_provider_query_scanned_bytes_month": "reported by aws_athena only",
    "budget_exporter_provider_query_scanned_bytes_month_limit": "reported by aws_athena only",
}


def _exposition(config: Config, now: datetime) -> str:
    refresher = Refresher(config)
    refresher.refresh(now)
    return render(refresher.snapshot(now)).decode()


def _own_labels(config: Config) -> dict[str, set[str]]:
    """The configured labels of each budget and SLO, by their identity label value."""
    own = {f"budget={b.name}": set(b.labels) for b in config.budgets}
    own |= {f"slo={s.name}": set(s.labels) for s in config.slos}
    return own


def _check_exposition(text: str, config: Config) -> set[str]:
    """Every family and sample as declared; returns the names of the families seen."""
    own = _own_labels(config)
    seen = set()
    for family in text_string_to_metric_families(text):
        samples = [s for s in family.samples if not s.name.endswith("_created")]
        if not samples:
            continue
        name = samples[0].name
        assert name in BY_NAME, f"{name} is exposed but declared nowhere"
        spec = BY_NAME[name]
        seen.add(name)
        assert (family.type, family.documentation) == (spec.kind, spec.help), name
        for sample in samples:
            identity = identity_labels(spec)
            configured = set()
            for key in identity:
                configured |= own.get(f"{key}={sample.labels.get(key)}", set())
            expected = set(identity) | set(spec.labels) | configured
            assert set(sample.labels) == expected, f"{name}{sample.labels}: expected {expected}"
    return seen


def test_the_demo_exposition_holds_exactly_the_declared_families_and_labels():
    config = load_config(None)
    seen = _check_exposition(_exposition(config, DEMO_AT), config)
    assert set(BY_NAME) - seen == set(ABSENT_FROM_DEMO)


def test_the_focus_sample_exposition_follows_the_declarations():
    config = load_config(ROOT / "tests" / "fixtures" / "focus.yml")
    seen = _check_exposition(_exposition(config, FOCUS_AT), config)
    assert "budget_spend" in seen


def test_each_family_is_declared_once_with_a_name_that_follows_prometheus_naming():
    names = [spec.name for spec in FAMILIES]
    assert len(names) == len(set(names))
    for spec in FAMILIES:
        assert re.fullmatch(r"(budget|slo)_[a-z0-9_]+", spec.name), spec.name
        # _total only for counters, and every counter ends in it.
        assert spec.name.endswith("_total") == (spec.kind == "counter"), spec.name
        assert not (set(spec.labels) & set(identity_labels(spec))), spec.name
        assert spec.help.endswith((".", ")")) and len(spec.help) > 20, spec.name


def test_every_module_that_declares_families_is_in_the_catalogue():
    in_sections = [spec for _, specs in SECTIONS for spec in specs]
    assert len(in_sections) == len(FAMILIES)


def test_the_committed_metric_reference_is_what_the_catalogue_prints():
    committed = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert committed == reference(), (
        "docs/metrics.md is stale: python -m budget_exporter.metrics.catalogue > docs/metrics.md"
    )
    printed = subprocess.run(
        [sys.executable, "-m", "budget_exporter.metrics.catalogue"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert printed == committed


def test_the_readme_metric_table_is_what_the_catalogue_prints():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- metrics:begin[^>]*-->\n(.*?)<!-- metrics:end -->", readme, re.S)
    assert block is not None, "README.md lost its metrics markers"
    assert block.group(1) == summary(), (
        "README.md's metric table is stale: paste "
        "python -m budget_exporter.metrics.catalogue --summary between its markers"
    )


def test_every_metric_the_readme_and_docs_name_is_declared():
    declared = set(BY_NAME)
    # Not a path, module or recording rule (level:metric:operation); a prefix written as
    # `budget_forecast_*` names the families it begins.
    token = re.compile(r"(?<![\w:/.])((?:budget|slo)_[a-z0-9_]*[a-z0-9])(?![\w:/(])")
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for match in token.finditer(path.read_text(encoding="utf-8")):
            name = match.group(1)
            known = name in declared or any(family.startswith(name + "_") for family in declared)
            assert known, f"{path.relative_to(ROOT)}: {name} is not a declared metric"
