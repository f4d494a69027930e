"""The dashboards against Grafana's own dashboard model (grafana-foundation-sdk, pinned to the
Grafana release the JSON targets): each decodes into the model and encodes back without losing or
changing a field, and that release is the one docs/dashboards.md names and docker-compose.yml runs.

Grafana itself is not in the package registries this suite may use, so the model stands in for
it; tests/test_dashboards.py runs every query against a real Prometheus.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog import plugins, runtime
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm

from conftest import ROOT

DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))


def _empty_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK keeps its plugin registry on a process-wide singleton: give the test its own."""
    runtime.Runtime()  # the singleton creates its registries on first use
    monkeypatch.setattr(runtime.Runtime, "panelcfg_variants", {})
    monkeypatch.setattr(runtime.Runtime, "dataquery_variants", {})


@pytest.fixture
def typed_panels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Panel options, field configs and queries decoded by their plugin's own model."""
    _empty_registry(monkeypatch)
    plugins.register_default_plugins()


@pytest.fixture
def untyped_panels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plugin parts kept as they are, so only the dashboard and panel models apply."""
    _empty_registry(monkeypatch)


def round_trip(data: dict[str, Any]) -> dict[str, Any]:
    """Decode into Grafana's dashboard model, then encode again."""
    encoded: dict[str, Any] = json.loads(json.dumps(dm.Dashboard.from_json(data), cls=JSONEncoder))
    return encoded


def differences(original: Any, encoded: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """(kind, path, value) of every field lost, changed or added by the round trip."""
    if isinstance(original, dict) and isinstance(encoded, dict):
        for key in sorted(original.keys() | encoded.keys()):
            here = f"{path}.{key}" if path else key
            if key not in encoded:
                yield "lost", here, original[key]
            elif key not in original:
                yield "added", here, encoded[key]
            else:
                yield from differences(original[key], encoded[key], here)
    elif isinstance(original, list) and isinstance(encoded, list) and len(original) == len(encoded):
        for index, (left, right) in enumerate(zip(original, encoded, strict=True)):
            yield from differences(left, right, f"{path}[{index}]")
    elif original != encoded or type(original) is not type(encoded):
        yield "changed", path, encoded


def _panel_of(data: dict[str, Any], path: str) -> dict[str, Any]:
    index = int(re.match(r"panels\[(\d+)\]", path)[1])  # type: ignore[index]
    panel: dict[str, Any] = data["panels"][index]
    return panel


def _default_field_config(panel_type: str) -> Any:
    """What the plugin's model encodes for a field config nobody set."""
    config = runtime.panelcfg_config(panel_type)
    assert config is not None and config.field_config_from_json_hook is not None
    return json.loads(json.dumps(config.field_config_from_json_hook({}), cls=JSONEncoder))


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_decodes_into_the_model_and_encodes_back_unchanged(
    path: Path, untyped_panels: None
) -> None:
    data = json.loads(path.read_text())
    assert round_trip(data) == data


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_with_the_plugins_models_nothing_is_lost_and_only_defaults_are_added(
    path: Path, typed_panels: None
) -> None:
    data = json.loads(path.read_text())
    encoded = round_trip(data)
    for kind, where, value in differences(data, encoded):
        # The table model fills in its field config defaults, which Grafana applies anyway.
        assert kind == "added" and where.endswith(".fieldConfig.defaults.custom"), (kind, where)
        assert value == _default_field_config(_panel_of(data, where)["type"])


def test_a_field_outside_the_model_is_caught(typed_panels: None) -> None:
    data = json.loads(DASHBOARDS[0].read_text())
    panel = next(p for p in data["panels"] if p["type"] == "timeseries")
    panel["options"]["legendd"] = {"showLegend": True}
    assert ("lost", "options.legendd") in {
        (kind, where.split(".", 1)[1]) for kind, where, _ in differences(data, round_trip(data))
    }


def _sdk_release() -> str:
    """The Grafana release of the installed SDK build: '1769699379!11.6.0' -> '11.6.0'."""
    return metadata.version("grafana-foundation-sdk").rpartition("!")[2]


def test_the_sdk_pinned_for_the_tests_is_the_one_that_was_installed() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    (pinned,) = re.findall(r'"grafana-foundation-sdk==([^"]+)"', pyproject)
    assert metadata.version("grafana-foundation-sdk") == pinned


def test_dashboards_target_the_grafana_that_compose_runs_and_the_docs_name() -> None:
    release = _sdk_release()
    major_minor = ".".join(release.split(".")[:2])
    schema = dm.Dashboard().schema_version
    for path in DASHBOARDS:
        assert json.loads(path.read_text())["schemaVersion"] == schema, path.name
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    image, _, tag = compose["services"]["grafana"]["image"].partition(":")
    assert image == "grafana/grafana"
    assert tag.split(".")[:2] == release.split(".")[:2], "the release the model is built for"
    docs = (ROOT / "docs" / "dashboards.md").read_text()
    assert f"Grafana {major_minor}" in docs and f"schemaVersion {schema}" in docs
