"""docker-compose.yml, the Dockerfile and the configs they wire together agree with each other.

The stack's images come from a registry, which the test machine cannot reach, so the stack is
checked by reading it (the exporter's own image is built and run by scripts/test-image): pinned
official images, every mounted path present in the repository, read-only config mounts,
healthchecks, and the names and ports that prometheus/prometheus.yml and the Grafana datasource
use are the services' own.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from budget_exporter.cli.commands import DEFAULT_PORT
from conftest import ROOT, require_binary

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
PROMETHEUS_YML = ROOT / "prometheus" / "prometheus.yml"
CONTAINER_PORTS = {
    "budget-exporter": DEFAULT_PORT,
    "prometheus": 9090,
    "alertmanager": 9093,
    "grafana": 3000,
}
READ_ONLY_FOLDERS = {"rules", "prometheus", "alertmanager", "grafana"}
PINNED = re.compile(r"^[\w./-]+:v?\d+\.\d+\.\d+[\w.-]*$")


def _bind_mounts(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(repository path, container path, mode) of every bind mount of a service."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target, *rest = volume.split(":")
        if source.startswith("."):
            mounts.append((source, target, rest[0] if rest else "rw"))
    return mounts


def _to_repository(service: str, container_path: str) -> Path | None:
    """The repository file a service sees at ``container_path``, through its bind mounts."""
    path = PurePosixPath(container_path)
    for source, target, _ in _bind_mounts(SERVICES[service]):
        if path == PurePosixPath(target) or PurePosixPath(target) in path.parents:
            return ROOT / source / path.relative_to(target)
    return None


def _prometheus_config() -> dict[str, Any]:
    assert PROMETHEUS_YML.exists(), "prometheus/prometheus.yml is part of the stack"
    return yaml.safe_load(PROMETHEUS_YML.read_text())


def _prometheus_config_dir() -> PurePosixPath:
    flag = next(
        arg for arg in SERVICES["prometheus"]["command"] if arg.startswith("--config.file=")
    )
    return PurePosixPath(flag.split("=", 1)[1]).parent


def test_the_stack_has_its_four_services() -> None:
    assert set(SERVICES) == set(CONTAINER_PORTS)


@pytest.mark.parametrize("name", sorted(CONTAINER_PORTS))
def test_service_is_pinned_healthchecked_and_publishes_its_port(name: str) -> None:
    service = SERVICES[name]
    if name == "budget-exporter":
        assert service["build"] == "." and (ROOT / "Dockerfile").exists()
    else:
        assert PINNED.match(service["image"]), f"{name}: pin an exact version"
        assert service["image"].split("/")[0] in {"prom", "grafana"}, "official images"
    check = service["healthcheck"]["test"]
    assert check[0] == "CMD" and any(str(CONTAINER_PORTS[name]) in part for part in check)
    port = CONTAINER_PORTS[name]
    assert service["ports"] == [f"127.0.0.1:{port}:{port}"], "its own port, on loopback only"


@pytest.mark.parametrize("name", sorted(CONTAINER_PORTS))
def test_every_mounted_path_exists_and_config_is_read_only(name: str) -> None:
    for source, _, mode in _bind_mounts(SERVICES[name]):
        assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"
        top = Path(source).parts[0] if Path(source).parts[0] != "." else Path(source).parts[1]
        if top in READ_ONLY_FOLDERS:
            assert mode == "ro", f"{name}: {source} must be mounted read-only"
    named = [v.split(":")[0] for v in SERVICES[name].get("volumes", []) if not v.startswith(".")]
    assert set(named) <= set(COMPOSE.get("volumes", {}))


@pytest.mark.parametrize(
    ("service", "binary"), [("prometheus", "promtool"), ("alertmanager", "amtool")]
)
def test_prometheus_and_alertmanager_are_the_release_lines_the_tests_run(
    service: str, binary: str
) -> None:
    done = subprocess.run(
        [require_binary(binary), "--version"], capture_output=True, text=True, timeout=30
    )
    tested = re.search(r"version (\d+\.\d+)\.", done.stdout + done.stderr)
    assert tested, done.stdout + done.stderr
    pinned = SERVICES[service]["image"].rpartition(":v")[2]
    assert pinned.startswith(f"{tested[1]}."), f"{service} {pinned}, tested with {tested[1]}"


def test_services_start_in_dependency_order_of_health() -> None:
    assert SERVICES["prometheus"]["depends_on"]["budget-exporter"]["condition"] == (
        "service_healthy"
    )
    assert SERVICES["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"


def test_prometheus_scrapes_the_exporter_by_its_service_name_and_port() -> None:
    targets = [
        target
        for job in _prometheus_config()["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static.get("targets", [])
    ]
    assert f"budget-exporter:{DEFAULT_PORT}" in targets
    for target in targets:
        service, _, port = target.rpartition(":")
        if service not in {"localhost", "127.0.0.1"}:
            assert service in SERVICES, f"{target}: no such service"
            assert int(port) == CONTAINER_PORTS[service], f"{target}: {service} listens elsewhere"


def test_prometheus_sends_alerts_to_the_alertmanager_service() -> None:
    alerting = _prometheus_config()["alerting"]["alertmanagers"]
    targets = [t for am in alerting for s in am["static_configs"] for t in s["targets"]]
    assert targets == [f"alertmanager:{CONTAINER_PORTS['alertmanager']}"]


def test_prometheus_finds_its_rule_files_through_the_mounts() -> None:
    patterns = _prometheus_config()["rule_files"]
    assert patterns
    for pattern in patterns:
        container = _prometheus_config_dir() / pattern
        repository = _to_repository("prometheus", str(container))
        assert repository is not None, f"{pattern}: not mounted into the container"
        assert list(repository.parent.glob(repository.name)), f"{pattern}: matches no file"


def test_alertmanager_config_is_mounted_where_its_flag_points() -> None:
    flag = next(a for a in SERVICES["alertmanager"]["command"] if a.startswith("--config.file="))
    path = _to_repository("alertmanager", flag.split("=", 1)[1])
    assert path is not None and path.exists()


def test_grafana_datasource_points_at_the_prometheus_service() -> None:
    provisioning = yaml.safe_load(
        (ROOT / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    (source,) = provisioning["datasources"]
    variable = re.fullmatch(r"\$\{?(\w+)\}?", source["url"])
    assert variable, "the URL comes from the environment (compose or native)"
    url = urlsplit(SERVICES["grafana"]["environment"][variable[1]])
    assert (url.hostname, url.port) == ("prometheus", CONTAINER_PORTS["prometheus"])
    interval = _prometheus_config()["global"]["scrape_interval"]
    assert source["jsonData"]["timeInterval"] == interval, "Grafana's minimum step is a scrape"


def test_grafana_loads_the_dashboards_from_their_mount() -> None:
    provider = yaml.safe_load(
        (ROOT / "grafana/provisioning/dashboards/budget-exporter.yml").read_text()
    )["providers"][0]
    folder = _to_repository("grafana", provider["options"]["path"])
    assert folder == ROOT / "grafana" / "dashboards"
    assert sorted(folder.glob("*.json"))
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert _to_repository("grafana", home) == ROOT / "grafana/dashboards/cost-overview.json"
    provisioning = _to_repository("grafana", "/etc/grafana/provisioning")
    assert provisioning == ROOT / "grafana" / "provisioning"


def test_exporter_image_is_slim_non_root_and_healthchecked() -> None:
    # Every stage is the BASE argument, whose default is the official slim Python image.
    stages = re.findall(r"^FROM (\S+)", DOCKERFILE, flags=re.M)
    assert stages and set(stages) == {"${BASE}"}
    (base,) = re.findall(r"^ARG BASE=(\S+)$", DOCKERFILE, flags=re.M)
    assert PINNED.match(base) and base.startswith("python:") and "slim" in base
    users = re.findall(r"^USER (\S+)", DOCKERFILE, flags=re.M)
    assert users and users[-1] not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK .*", DOCKERFILE, flags=re.M)
    assert f"EXPOSE {DEFAULT_PORT}" in DOCKERFILE
    assert "/-/healthy" in DOCKERFILE and f":{DEFAULT_PORT}" in DOCKERFILE
    demo = ROOT / "exporter/budget_exporter/demo/demo.yml"
    assert f"COPY {demo.relative_to(ROOT)} /etc/budget-exporter/config.yml" in DOCKERFILE


def test_docker_build_context_holds_only_the_package() -> None:
    ignore = [
        line for line in (ROOT / ".dockerignore").read_text().splitlines() if line[:1] not in "#"
    ]
    assert ignore[0] == "*", "everything is excluded unless listed"
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, flags=re.M)
    for line in copied:
        for source in line.split():
            assert f"!{source.split('/')[0]}" in ignore or f"!{source.split('/')[0]}/" in ignore
            assert (ROOT / source).exists()
