from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tollway.byoc.docker_runtime import INTERNAL_NETWORK, DockerRuntime, run_as_user
from tollway.byoc.health import wait_healthy
from tollway.byoc.spec import BuildImageInput, ContainerSpec, StartedContainer
from tollway.errors import ContainerSetupFailed, WorkerFailed

pytestmark = pytest.mark.docker

MiB = 1024 * 1024
StartEcho = Callable[..., StartedContainer]
SpecFactory = Callable[..., ContainerSpec]


def _exec(container: Any, *cmd: str) -> tuple[int, str]:
    code, output = container.exec_run(list(cmd))
    return int(code), bytes(output).decode()


async def test_echo_round_trip(start_echo: StartEcho) -> None:
    started = time.perf_counter()
    container = start_echo()
    await wait_healthy(container.url, "/health", 15)
    print(f"\nstart to healthy in {time.perf_counter() - started:.3f}s")
    assert container.url == f"http://127.0.0.1:{container.host_port}"
    assert container.name.startswith("tollway-echo-")

    body = os.urandom(100 * 1024)
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.post(
            f"{container.url}/v1/echo", content=body, headers={"Content-Type": "image/png"}
        )
    assert response.status_code == 200
    assert response.content == body
    assert response.headers["content-type"] == "image/png"
    assert json.loads(response.headers["x-metadata"]) == {"path": "/v1/echo", "bytes": len(body)}


def test_container_is_hardened(start_echo: StartEcho, docker_client: Any) -> None:
    started = start_echo(memory_mb=256, cpus=0.5, pids_limit=64)
    container = docker_client.containers.get(started.container_id)
    host = container.attrs["HostConfig"]

    assert container.attrs["Config"]["User"] == "65534:65534"
    assert host["Init"] is True
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert any(opt.startswith("no-new-privileges") for opt in host["SecurityOpt"])
    assert host["PidsLimit"] == 64
    assert host["Memory"] == 256 * MiB
    assert host["NanoCpus"] == 500_000_000
    assert "size=64m" in host["Tmpfs"]["/tmp"]
    assert host["PortBindings"] == {"5000/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}
    assert container.labels["tollway"] == "1"
    bound = container.attrs["NetworkSettings"]["Ports"]["5000/tcp"]
    assert [b["HostIp"] for b in bound] == ["127.0.0.1"]
    assert int(bound[0]["HostPort"]) == started.host_port

    assert _exec(container, "id", "-u") == (0, "65534\n")
    code, _ = _exec(container, "touch", "/x")
    assert code != 0
    assert _exec(container, "touch", "/tmp/x")[0] == 0
    code, status = _exec(container, "cat", "/proc/1/status")
    assert code == 0
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["CapEff"].strip() == "0000000000000000"
    assert fields["NoNewPrivs"].strip() == "1"


async def test_worker_token_is_enforced(start_echo: StartEcho) -> None:
    container = start_echo(env={"WORKER_TOKEN": "s3cret-token"})
    await wait_healthy(container.url, "/health", 15)
    async with httpx.AsyncClient(base_url=container.url, trust_env=False) as client:
        refused = await client.post("/run", content=b"hi")
        wrong = await client.post("/run", content=b"hi", headers={"Authorization": "Bearer no"})
        allowed = await client.post(
            "/run", content=b"hi", headers={"Authorization": "Bearer s3cret-token"}
        )
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "Unauthorized"
    assert wrong.status_code == 401
    assert allowed.status_code == 200
    assert allowed.content == b"hi"


def test_stop_removes_and_tolerates_gone(
    start_echo: StartEcho, runtime: DockerRuntime, session_labels: dict[str, str]
) -> None:
    container = start_echo()
    listed = runtime.list_containers(session_labels)
    assert container.container_id in [info.container_id for info in listed]
    info = next(info for info in listed if info.container_id == container.container_id)
    assert info.status == "running"
    assert info.url == container.url

    started = time.perf_counter()
    runtime.stop(container.container_id)
    assert time.perf_counter() - started < 2, "SIGTERM should stop the worker at once"
    remaining = runtime.list_containers(session_labels)
    assert container.container_id not in [info.container_id for info in remaining]
    runtime.stop(container.container_id)
    runtime.stop("0" * 64)


async def test_logs(start_echo: StartEcho, runtime: DockerRuntime) -> None:
    container = start_echo()
    await wait_healthy(container.url, "/health", 15)
    assert "listening on 0.0.0.0:5000" in runtime.logs(container.container_id, tail=20)


def test_missing_image_is_not_retryable(runtime: DockerRuntime, echo_spec: SpecFactory) -> None:
    with pytest.raises(ContainerSetupFailed, match="no image"):
        runtime.start(echo_spec(image="tollway/does-not-exist:never"))


async def test_network_none_is_reachable_from_this_host_only(
    start_echo: StartEcho, docker_client: Any
) -> None:
    container = start_echo(network="none")
    assert not container.url.startswith("http://127.0.0.1")
    await wait_healthy(container.url, "/health", timeout_seconds=30)
    async with httpx.AsyncClient(trust_env=False) as http:
        assert (await http.get(f"{container.url}/health")).status_code == 200
    attrs = docker_client.containers.get(container.container_id).attrs
    assert list(attrs["NetworkSettings"]["Networks"]) == [INTERNAL_NETWORK]
    assert attrs["NetworkSettings"]["Ports"] == {}
    network = docker_client.networks.get(INTERNAL_NETWORK).attrs
    assert network["Internal"] is True
    assert network["Options"]["com.docker.network.bridge.enable_icc"] == "false"


def test_an_unused_duplicate_internal_network_is_removed(
    start_echo: StartEcho, docker_client: Any
) -> None:
    """Two creates that race can leave two networks of one name, and then neither name lookup
    nor a container start works; the runtime removes the unused one at its next start."""
    start_echo(network="none")  # the network exists, and is in use
    docker_client.networks.create(INTERNAL_NETWORK, driver="bridge", check_duplicate=False)

    def named() -> list[Any]:
        found = docker_client.networks.list(names=[INTERNAL_NETWORK])
        return [n for n in found if n.name == INTERNAL_NETWORK]

    assert len(named()) == 2
    container = start_echo(network="none")
    assert len(named()) == 1
    attrs = docker_client.containers.get(container.container_id).attrs
    assert list(attrs["NetworkSettings"]["Networks"]) == [INTERNAL_NETWORK]


def test_container_that_fails_to_start_is_removed(
    runtime: DockerRuntime,
    docker_client: Any,
    echo_spec: SpecFactory,
    session_labels: dict[str, str],
    tmp_path: Path,
) -> None:
    (tmp_path / "Dockerfile").write_text(
        'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nUSER no-such-user\nCMD ["python3"]\n'
    )
    tag = "tollway/no-such-user:test"
    runtime.build_image(BuildImageInput(context_dir=str(tmp_path), tag=tag))
    try:
        with pytest.raises(WorkerFailed, match="starting tollway-nouser-"):
            runtime.start(echo_spec(capability="nouser", image=tag))
    finally:
        docker_client.images.remove(tag, force=True)
    names = [info.name for info in runtime.list_containers(session_labels)]
    assert not [name for name in names if name.startswith("tollway-nouser-")]


def test_build_failures_are_not_retryable(runtime: DockerRuntime, tmp_path: Path) -> None:
    with pytest.raises(ContainerSetupFailed, match="no Dockerfile"):
        runtime.build_image(BuildImageInput(context_dir=str(tmp_path), tag="tollway/x:test"))

    (tmp_path / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN exit 3\n")
    with pytest.raises(ContainerSetupFailed, match="failed") as raised:
        runtime.build_image(BuildImageInput(context_dir=str(tmp_path), tag="tollway/broken:test"))
    assert "exit 3" in raised.value.details["log"]


def test_stop_refuses_foreign_containers(
    runtime: DockerRuntime, docker_client: Any, echo_image: str, session_labels: dict[str, str]
) -> None:
    foreign = docker_client.containers.create(
        echo_image, labels=session_labels, network_mode="none"
    )
    try:
        assert foreign.labels["tollway"] == "1", "inherited from the image's build label"
        assert foreign.id not in [info.container_id for info in runtime.list_containers()]
        with pytest.raises(ContainerSetupFailed, match="not a tollway container"):
            runtime.stop(foreign.id)
    finally:
        foreign.remove(force=True)


@pytest.mark.parametrize(
    ("image_user", "expected"),
    [
        ("", "65534:65534"),
        ("root", "65534:65534"),
        ("0:0", "65534:65534"),
        ("65534:65534", "65534:65534"),
        ("app", "app"),
        ("1000:0", "1000:0"),
    ],
)
def test_run_as_user_never_root(image_user: str, expected: str) -> None:
    assert run_as_user(image_user) == expected
