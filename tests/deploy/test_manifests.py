"""deploy/compose.yaml and deploy/k8s are honest: docker-compose accepts the compose file,
every manifest is valid against Kubernetes' schemas, every TOLLWAY_* variable names a real
settings field (and the values each role gets make valid settings), every role command exists,
and everything a manifest refers to (files, ConfigMaps, Secrets, claims) is there."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.manifests import (
    DEPLOY,
    containers,
    k8s_documents,
    names_a_field,
    role_command_exists,
    settings_class,
)
from tollway.config import RoleSettings

K8S_VERSION = "1.33.0"
COMPOSE_ENV = {
    "TEMPORAL_POSTGRES_PASSWORD": "temporal-password",
    "TOLLWAY_POSTGRES_PASSWORD": "tollway-password",
    "TOLLWAY_ORCHESTRATOR_SECRET": "a-secret-of-16-characters-or-more",
}
# What a Secret or the downward API gives a pod, for building its settings here.
FROM_SECRET = "a-secret-of-16-characters-or-more"


def _compose(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is not installed: run scripts/setup.sh")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TOLLWAY_", "TEMPORAL_"))
    }
    return subprocess.run(
        [binary, "-f", str(DEPLOY / "compose.yaml"), *args],
        capture_output=True,
        text=True,
        env=env | COMPOSE_ENV,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file as docker-compose reads it: anchors merged, variables filled in."""
    checked = _compose("config", "-q")
    assert checked.returncode == 0, checked.stderr
    rendered = _compose("config")
    assert rendered.returncode == 0, rendered.stderr
    loaded: dict[str, Any] = yaml.safe_load(rendered.stdout)
    return loaded


def _role_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if str(service["image"]).startswith("tollway/roles")
    }


def _settings(
    cls: type[RoleSettings], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> RoleSettings:
    """`cls` built from `env` alone, as the role's process would build it."""
    with monkeypatch.context() as patch:
        for key in os.environ:
            if key.startswith("TOLLWAY_"):
                patch.delenv(key)
        for key, value in env.items():
            patch.setenv(key, value)
        return cls()


def test_compose_runs_every_role(compose: dict[str, Any]) -> None:
    commands = sorted(" ".join(s["command"]) for s in _role_services(compose).values())
    assert commands == [
        "gateway api",
        "gateway worker",
        "gpu-worker",
        "orchestrator api",
        "orchestrator worker",
    ]
    gpu = compose["services"]["gpu-worker"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    for name, service in _role_services(compose).items():
        assert "healthcheck" in service, name


def test_compose_roles_set_real_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, service in _role_services(compose).items():
        assert role_command_exists(service["command"]), f"{name}: {service['command']}"
        env = {key: str(value) for key, value in service["environment"].items()}
        unknown = [key for key in env if key.startswith("TOLLWAY_") and not names_a_field(key)]
        assert not unknown, f"{name} sets variables no settings field reads: {unknown}"
        classes = {settings_class(key) for key in env if key.startswith("TOLLWAY_")}
        assert len(classes) == 1, f"{name} mixes roles' variables"
        cls = classes.pop()
        assert cls is not None
        _settings(cls, env, monkeypatch)


def test_compose_files_exist(compose: dict[str, Any]) -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    raw = yaml.safe_load(text)
    for service in raw["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), source
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert alerts["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"] for job in alerts["scrape_configs"]}
    assert set(_role_services(compose)) <= jobs


def test_prometheus_config_is_valid() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: run scripts/setup.sh")
    checked = subprocess.run(
        [promtool, "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    "kustomization", sorted((DEPLOY / "k8s").rglob("kustomization.yaml")), ids=str
)
def test_kustomization_names_existing_files(kustomization: Path) -> None:
    spec = yaml.safe_load(kustomization.read_text())
    listed = list(spec.get("resources", []))
    listed += [patch["path"] for patch in spec.get("patches", [])]
    assert listed
    for entry in listed:
        assert (kustomization.parent / entry).exists(), f"{kustomization}: {entry}"


def test_k8s_manifests_match_the_schemas() -> None:
    checked = 0
    for path, document in k8s_documents():
        if path.name == "kustomization.yaml" or isinstance(document, list):
            continue  # kustomize's own file; a JSON patch (checked below)
        kubernetes_validate.validate(document, K8S_VERSION, strict=True)
        checked += 1
    assert checked >= 10


def test_k8s_json_patches_are_additions() -> None:
    patches = [doc for _, doc in k8s_documents() if isinstance(doc, list)]
    assert patches
    for patch in patches:
        for op in patch:
            assert op["op"] == "add" and op["path"].startswith("/spec/template/spec/")


def _objects(directory: Path) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (doc["kind"], doc["metadata"]["name"]): doc
        for path, doc in k8s_documents()
        if path.parent == directory and isinstance(doc, dict) and "metadata" in doc
    }


def test_k8s_roles_set_real_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    base = _objects(DEPLOY / "k8s" / "base")
    overlay = _objects(DEPLOY / "k8s" / "overlays" / "temporal-cloud")
    commands = []
    for key, document in base.items():
        for container in containers(document):
            commands.append(" ".join(container["args"]))
            assert role_command_exists(container["args"]), f"{key}: {container['args']}"
            for variant in (base, base | _overlaid(base, overlay)):
                env = _pod_env(container, variant)
                unknown = [name for name in env if not names_a_field(name)]
                assert not unknown, f"{key} sets variables no settings field reads: {unknown}"
                cls = {settings_class(name) for name in env}
                assert len(cls) == 1, f"{key} mixes roles' variables"
                role = cls.pop()
                assert role is not None
                _settings(role, env, monkeypatch)
    assert sorted(commands) == [
        "gateway api",
        "gateway worker",
        "gpu-worker",
        "orchestrator api",
        "orchestrator worker",
    ]


def _overlaid(
    base: dict[tuple[str, str], dict[str, Any]], overlay: dict[tuple[str, str], dict[str, Any]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The overlay's ConfigMap patches merged into the base's ConfigMaps (what kustomize does
    with a strategic merge patch of `data`)."""
    merged = {}
    for key, patch in overlay.items():
        if key[0] == "ConfigMap" and key in base:
            merged[key] = {**base[key], "data": {**base[key]["data"], **patch["data"]}}
    return merged


def _pod_env(
    container: dict[str, Any], objects: dict[tuple[str, str], dict[str, Any]]
) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        name = source["configMapRef"]["name"]
        assert ("ConfigMap", name) in objects, f"no ConfigMap {name}"
        env |= objects[("ConfigMap", name)]["data"]
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
            continue
        reference = variable["valueFrom"]
        if "secretKeyRef" in reference:
            secret = objects.get(("Secret", reference["secretKeyRef"]["name"]))
            assert secret is not None, f"no Secret {reference['secretKeyRef']['name']}"
            assert reference["secretKeyRef"]["key"] in secret["stringData"]
            env[variable["name"]] = (
                "postgresql://tollway:x@db/tollway"
                if "DATABASE" in variable["name"]
                else FROM_SECRET
            )
        else:
            env[variable["name"]] = "tollway-pod-0"
    return env


def test_k8s_volumes_name_existing_objects() -> None:
    base = _objects(DEPLOY / "k8s" / "base")
    overlay = _objects(DEPLOY / "k8s" / "overlays" / "temporal-cloud")
    for key, document in base.items():
        if not containers(document):
            continue
        pod = document["spec"]["template"]["spec"]
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        for container in pod["containers"]:
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes, f"{key}: {mount['name']}"
        for volume in volumes.values():
            if "secret" in volume:
                assert ("Secret", volume["secret"]["secretName"]) in base, key
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                assert ("PersistentVolumeClaim", claim) in base, key
    assert ("Secret", "tollway-temporal-cloud") in overlay


def test_the_checks_catch_mistakes() -> None:
    assert names_a_field("TOLLWAY_GATEWAY_KEY__KEYSTORE")
    assert names_a_field("TOLLWAY_GATEWAY_CHAIN__RPC_URL")  # through ChainSettings | None
    assert names_a_field("TOLLWAY_GPU_TEMPORAL_AUTH__API_KEY_FILE")
    assert not names_a_field("TOLLWAY_GATEWAY_KEY__NOPE")
    assert not names_a_field("TOLLWAY_ORCH_PORTS")
    assert not names_a_field("TOLLWAY_GATEWAY_PORT__X")
    assert not names_a_field("TOLLWAY_ORCHESTRATOR_SECRET")
    assert role_command_exists(["orchestrator", "worker", "--config", "o.json"])
    assert not role_command_exists(["gateway"])
    assert not role_command_exists(["gateway", "relay"])
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"prot": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)
