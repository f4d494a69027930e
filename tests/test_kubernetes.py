"""deploy/kubernetes: rendered by the real kubectl, valid against the Kubernetes schema, restricted
Pod Security, and the Prometheus Operator objects agreeing with rules/ and grafana/.

No cluster runs here: the core objects are checked offline against the published OpenAPI schema
(kubernetes-validate), the rule groups with promtool, and the exporter's own config with
``budget-exporter check``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from conftest import ROOT, free_port, require_binary

KUBERNETES = ROOT / "deploy" / "kubernetes"
KUSTOMIZATIONS = ["base", "overlays/demo", "dashboards"]
# The oldest Kubernetes release still supported upstream when this was written, and the newest
# schema the validator ships.
SCHEMA_VERSIONS = ["1.31.0", kubernetes_validate.latest_version()]
OPERATOR_GROUP = "monitoring.coreos.com/v1"
PORT = 10098
UID = 10098


@cache
def render(kustomization: str) -> tuple[dict[str, Any], ...]:
    """The objects ``kubectl kustomize`` builds from a kustomization folder."""
    kubectl = require_binary("kubectl")
    done = subprocess.run(
        [kubectl, "kustomize", str(KUBERNETES / kustomization)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def one(objects: tuple[dict[str, Any], ...], kind: str) -> dict[str, Any]:
    """The one object of ``kind``, not a dashboard's ConfigMap."""
    (found,) = [
        o
        for o in objects
        if o["kind"] == kind and "grafana_dashboard" not in o["metadata"].get("labels", {})
    ]
    return found


def pod_spec(kustomization: str) -> dict[str, Any]:
    spec: dict[str, Any] = one(render(kustomization), "Deployment")["spec"]["template"]["spec"]
    return spec


def _generator_check() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(KUBERNETES / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_generated_objects_are_up_to_date() -> None:
    done = _generator_check()
    assert done.returncode == 0, (
        f"run .venv/bin/python deploy/kubernetes/generate.py: {done.stderr}"
    )


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_every_core_object_validates_against_the_kubernetes_schema(
    kustomization: str, version: str
) -> None:
    core = [o for o in render(kustomization) if o["apiVersion"] != OPERATOR_GROUP]
    assert core
    for manifest in core:
        # strict: a misspelt or misplaced field is an error, not silently dropped by the API.
        kubernetes_validate.validate(manifest, version, strict=True)


def test_the_validator_rejects_a_misplaced_field() -> None:
    deployment = json.loads(json.dumps(one(render("base"), "Deployment")))
    deployment["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, SCHEMA_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("kustomization", ["base", "overlays/demo"])
def test_pod_meets_the_restricted_pod_security_profile(kustomization: str) -> None:
    spec = pod_spec(kustomization)
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] == UID != 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    assert not any(spec.get(key) for key in ("hostNetwork", "hostPID", "hostIPC"))
    allowed_volumes = {"configMap", "secret", "emptyDir", "persistentVolumeClaim", "projected"}
    for volume in spec["volumes"]:
        assert set(volume) - {"name"} <= allowed_volumes, volume
    for container in spec["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert "privileged" not in context and not container.get("ports", [{}])[0].get("hostPort")
        resources = container["resources"]
        for kind in ("cpu", "memory"):
            assert resources["requests"][kind] and resources["limits"][kind]


@pytest.mark.parametrize("kustomization", ["base", "overlays/demo"])
def test_probes_ask_healthy_for_liveness_and_ready_for_readiness(kustomization: str) -> None:
    (container,) = pod_spec(kustomization)["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http-metrics": PORT}
    for probe, path in [
        ("startupProbe", "/-/healthy"),
        ("livenessProbe", "/-/healthy"),
        ("readinessProbe", "/-/ready"),
    ]:
        assert container[probe]["httpGet"] == {"path": path, "port": "http-metrics"}


def test_base_runs_one_replica_on_its_state_volume_and_reads_its_config_and_secret() -> None:
    objects = render("base")
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}, "never two pods on one volume"
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    flags = dict(arg.split("=", 1) for arg in container["args"] if "=" in arg)

    state = mounts[flags["--state.dir"]]
    claim = volumes[state["name"]]["persistentVolumeClaim"]["claimName"]
    assert one(objects, "PersistentVolumeClaim")["metadata"]["name"] == claim
    assert claim and spec["securityContext"]["fsGroup"] == UID, "the volume is the user's"

    config_file = Path(flags["--config.file"])
    config_mount = mounts[str(config_file.parent)]
    assert config_mount["readOnly"] is True
    configmap_name = volumes[config_mount["name"]]["configMap"]["name"]
    configmap = one(objects, "ConfigMap")
    assert configmap["metadata"]["name"] == configmap_name
    assert config_file.name in configmap["data"]

    secret_mounts = [m for m in mounts.values() if "secret" in volumes[m["name"]]]
    assert [m["readOnly"] for m in secret_mounts] == [True]
    assert volumes[secret_mounts[0]["name"]]["secret"]["secretName"]
    assert not any("env" in c or "envFrom" in c for c in spec["containers"]), "files, not env"
    assert "/tmp" in mounts and "emptyDir" in volumes[mounts["/tmp"]["name"]]


def test_base_config_is_valid_for_the_exporter(tmp_path: Path) -> None:
    config = yaml.safe_load(one(render("base"), "ConfigMap")["data"]["config.yml"])
    # The tests reach loopback only: the providers' in-cluster addresses become a closed port.
    for provider in config["providers"].values():
        if "url" in provider:
            provider["url"] = f"http://127.0.0.1:{free_port()}"
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    exporter = Path(sys.executable).parent / "budget-exporter"
    done = subprocess.run(
        [str(exporter), "check", "--config.file", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # 1: the provider is not there; 2 would be an invalid config.
    assert done.returncode == 1, done.stdout + done.stderr
    assert "config invalid" not in done.stderr


def test_demo_overlay_runs_the_bundled_demo_without_a_claim() -> None:
    objects = render("overlays/demo")
    assert {o["metadata"].get("namespace") for o in objects} == {"monitoring"}
    assert not [o for o in objects if o["kind"] == "PersistentVolumeClaim"]
    spec = pod_spec("overlays/demo")
    (container,) = spec["containers"]
    assert not [arg for arg in container["args"] if arg.startswith("--config.file")]
    state = {v["name"]: v for v in spec["volumes"]}["state"]
    assert set(state) == {"name", "emptyDir"}
    kinds = {o["kind"] for o in objects}
    assert {"ServiceMonitor", "PrometheusRule"} <= kinds
    sidecar = [o for o in objects if o["metadata"]["labels"].get("grafana_dashboard") == "1"]
    assert len(sidecar) == len(render("dashboards"))


@pytest.mark.parametrize("kustomization", ["base", "overlays/demo"])
def test_service_monitor_scrapes_the_service_port_that_reaches_the_container(
    kustomization: str,
) -> None:
    objects = render(kustomization)
    monitor = one(objects, "ServiceMonitor")
    service = one(objects, "Service")
    wanted = monitor["spec"]["selector"]["matchLabels"]
    assert wanted.items() <= service["metadata"]["labels"].items()
    assert "namespaceSelector" not in monitor["spec"], "the Service's own namespace"
    (endpoint,) = monitor["spec"]["endpoints"]
    (port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
    assert endpoint["path"] == "/metrics"
    template = one(objects, "Deployment")["spec"]["template"]
    assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
    (container,) = template["spec"]["containers"]
    assert port["targetPort"] in {p["name"] for p in container["ports"]}


def _groups_by_rule_file() -> dict[str, list[dict[str, Any]]]:
    return {
        path.name.removesuffix(".rules.yml"): yaml.safe_load(path.read_text())["groups"]
        for path in sorted((ROOT / "rules" / "generated").glob("*.rules.yml"))
    }


def test_prometheus_rules_hold_exactly_the_groups_of_rules_generated() -> None:
    rules = {
        o["metadata"]["name"].removeprefix("budget-exporter-"): o["spec"]["groups"]
        for o in render("base")
        if o["kind"] == "PrometheusRule"
    }
    assert rules == _groups_by_rule_file()


def test_prometheus_rule_groups_pass_promtool(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    files = []
    for rule in (o for o in render("overlays/demo") if o["kind"] == "PrometheusRule"):
        path = tmp_path / f"{rule['metadata']['name']}.yml"
        path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
        files.append(str(path))
    assert len(files) == len(_groups_by_rule_file())
    done = subprocess.run(
        [promtool, "check", "rules", *files], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dashboard_configmaps_hold_each_dashboard_unchanged_for_the_grafana_sidecar() -> None:
    configmaps = render("dashboards")
    found = {}
    for configmap in configmaps:
        assert configmap["kind"] == "ConfigMap"
        assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
        ((name, text),) = configmap["data"].items()
        found[name] = text
    dashboards = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
    assert sorted(found) == [p.name for p in dashboards]
    for path in dashboards:
        assert found[path.name] == path.read_text()
