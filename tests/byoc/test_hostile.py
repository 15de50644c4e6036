"""Hostile containers stay confined (ARCHITECTURE section 8), each case against a real Docker
engine: the attempt fails inside the container, and the host and a neighbouring echo
container keep serving."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tollway.byoc.docker_runtime import DockerRuntime
from tollway.byoc.health import wait_healthy
from tollway.byoc.spec import BuildImageInput, ContainerSpec, StartedContainer

HOSTILE_CONTEXT = Path(__file__).with_name("hostile")
HOSTILE_TAG = "tollway/hostile:test"
MEMORY_MB = 64
PIDS = 32


@pytest.fixture(scope="module")
def hostile_image(runtime: DockerRuntime) -> str:
    return runtime.build_image(BuildImageInput(context_dir=str(HOSTILE_CONTEXT), tag=HOSTILE_TAG))


@pytest.fixture
def start_hostile(
    runtime: DockerRuntime, hostile_image: str, session_labels: dict[str, str]
) -> Iterator[Callable[[str], StartedContainer]]:
    started: list[StartedContainer] = []

    def start(network: str = "bridge") -> StartedContainer:
        spec = ContainerSpec(
            capability="hostile",
            image=HOSTILE_TAG,
            labels=session_labels,
            memory_mb=MEMORY_MB,
            pids_limit=PIDS,
            cpus=0.5,
            network=network,
        )
        started.append(runtime.start(spec))
        asyncio.run(wait_healthy(started[-1].url, "/health", timeout_seconds=30))
        return started[-1]

    yield start
    for container in started:
        runtime.stop(container.container_id)


@pytest.fixture
def hostile(start_hostile: Callable[[str], StartedContainer]) -> StartedContainer:
    return start_hostile("bridge")


@pytest.fixture
def neighbour(start_echo: Callable[..., StartedContainer]) -> StartedContainer:
    container = start_echo()
    asyncio.run(wait_healthy(container.url, "/health", timeout_seconds=30))
    return container


def still_serving(*containers: StartedContainer) -> None:
    for container in containers:
        answer = httpx.get(f"{container.url}/health", timeout=5)
        assert answer.status_code == 200, container.name


def test_its_root_filesystem_is_read_only(
    hostile: StartedContainer, neighbour: StartedContainer
) -> None:
    results = httpx.post(f"{hostile.url}/write-root", json={}, timeout=10).json()
    for path in ("/etc/pwned", "/app/pwned", "/pwned"):
        assert results[path] in ("Read-only file system", "Permission denied"), results
    assert results["/tmp/allowed"] == "written"  # its private tmpfs is the one writable place
    still_serving(hostile, neighbour)


def test_a_fork_bomb_stops_at_the_pids_limit(
    hostile: StartedContainer, neighbour: StartedContainer
) -> None:
    results = httpx.post(f"{hostile.url}/fork-bomb", json={}, timeout=30).json()
    assert results["forked"] < PIDS, results
    assert results["error"] == "Resource temporarily unavailable", results
    still_serving(hostile, neighbour)


def test_allocating_past_the_memory_limit_kills_only_that_container(
    hostile: StartedContainer, neighbour: StartedContainer, docker_client: Any
) -> None:
    with pytest.raises(httpx.HTTPError):
        httpx.post(f"{hostile.url}/allocate", json={"mb": 4 * MEMORY_MB}, timeout=30)
    container = docker_client.containers.get(hostile.container_id)
    for _ in range(100):  # docker-init exits with its killed child; give it a moment
        container.reload()
        if container.status != "running":
            break
        time.sleep(0.1)
    state = container.attrs["State"]
    assert state["OOMKilled"] is True, state
    assert state["ExitCode"] == 137, state
    still_serving(neighbour)
    # The host (this process, and dockerd) is fine: it can still start and reach containers.
    assert docker_client.ping()


def test_without_egress_it_reaches_nothing(
    start_hostile: Callable[[str], StartedContainer],
    neighbour: StartedContainer,
    docker_client: Any,
) -> None:
    """The neighbour's address on Docker's bridge stands for "anywhere else": a container
    allowed egress reaches it, one declared without egress does not."""
    attrs = docker_client.containers.get(neighbour.container_id).attrs
    target = {"host": attrs["NetworkSettings"]["Networks"]["bridge"]["IPAddress"], "port": 5000}
    allowed = start_hostile("bridge")
    assert httpx.post(f"{allowed.url}/connect", json=target, timeout=10).json()["connected"]
    confined = start_hostile("none")
    result = httpx.post(f"{confined.url}/connect", json=target, timeout=10).json()
    assert result["connected"] is False, result
    still_serving(confined, neighbour)
