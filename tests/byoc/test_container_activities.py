from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from tollway.activities.containers import ContainerActivities
from tollway.byoc.docker_runtime import DockerRuntime
from tollway.byoc.runtime import Runtimes
from tollway.byoc.spec import (
    REPLICA_LABEL,
    BuildImageInput,
    ContainerSpec,
    HealthCheckInput,
    StopContainerInput,
    WaitHealthyInput,
)
from tollway.byoc.triton_runtime import TritonRuntime

pytestmark = pytest.mark.docker
SpecFactory = Callable[..., ContainerSpec]


@pytest.fixture
def activities(runtime: DockerRuntime, echo_image: str, tmp_path: Path) -> ContainerActivities:
    return ContainerActivities(Runtimes(TritonRuntime(tmp_path / "triton"), lambda: runtime))


@pytest.fixture
def env() -> ActivityEnvironment:
    return ActivityEnvironment()


def _heartbeats(env: ActivityEnvironment) -> list[tuple[Any, ...]]:
    beats: list[tuple[Any, ...]] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    return beats


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_lifecycle(
    activities: ContainerActivities,
    env: ActivityEnvironment,
    runtime: DockerRuntime,
    echo_build: BuildImageInput,
    echo_spec: SpecFactory,
) -> None:
    image_id = await env.run(activities.build_image, echo_build)
    assert image_id.startswith("sha256:")

    started = await env.run(activities.start_container, echo_spec())
    try:
        beats = _heartbeats(env)
        began = time.perf_counter()
        await env.run(
            activities.wait_healthy, WaitHealthyInput(url=started.url, timeout_seconds=15)
        )
        print(f"\nwait_healthy activity: {time.perf_counter() - began:.3f}s, {len(beats)} beats")
        assert beats and beats[0] == (1,)
        async with httpx.AsyncClient(trust_env=False) as client:
            assert (await client.post(f"{started.url}/x", content=b"ok")).content == b"ok"
    finally:
        await env.run(
            activities.stop_container, StopContainerInput(container_id=started.container_id)
        )
    assert started.container_id not in [c.container_id for c in runtime.list_containers()]
    await env.run(activities.stop_container, StopContainerInput(container_id=started.container_id))


async def test_unhealthy_is_retryable_worker_failed(
    activities: ContainerActivities, env: ActivityEnvironment
) -> None:
    beats = _heartbeats(env)
    request = WaitHealthyInput(url=f"http://127.0.0.1:{_unused_port()}", timeout_seconds=0.5)
    with pytest.raises(ApplicationError) as raised:
        await env.run(activities.wait_healthy, request)
    assert raised.value.type == "WorkerFailed"
    assert not raised.value.non_retryable
    assert len(beats) >= 3
    assert [beat[0] for beat in beats] == list(range(1, len(beats) + 1))


async def test_missing_image_is_non_retryable(
    activities: ContainerActivities, env: ActivityEnvironment, echo_spec: SpecFactory
) -> None:
    with pytest.raises(ApplicationError) as raised:
        await env.run(activities.start_container, echo_spec(image="tollway/absent:never"))
    assert raised.value.type == "ContainerSetupFailed"
    assert raised.value.non_retryable


async def test_broken_build_is_non_retryable(
    activities: ContainerActivities, env: ActivityEnvironment, tmp_path: Any
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM ${BASE_IMAGE}\nRUN false\n")
    request = BuildImageInput(context_dir=str(tmp_path), tag="tollway/broken:test")
    with pytest.raises(ApplicationError) as raised:
        await env.run(activities.build_image, request)
    assert raised.value.type == "ContainerSetupFailed"
    assert raised.value.non_retryable


async def test_a_retried_start_takes_over_the_replicas_container(
    activities: ContainerActivities,
    env: ActivityEnvironment,
    runtime: DockerRuntime,
    echo_spec: SpecFactory,
) -> None:
    """A start whose first attempt made the container but never reported it (the GPU worker
    died) finds it by its replica label: no orphan, no duplicate."""
    spec = echo_spec(labels={REPLICA_LABEL: f"container-echo-{time.time_ns()}"})
    first = await env.run(activities.start_container, spec)
    try:
        again = await env.run(activities.start_container, spec)
        assert again.container_id == first.container_id
        mine = runtime.list_containers({REPLICA_LABEL: spec.labels[REPLICA_LABEL]})
        assert [c.container_id for c in mine] == [first.container_id]
    finally:
        await env.run(
            activities.stop_container, StopContainerInput(container_id=first.container_id)
        )


async def test_check_health_sees_a_killed_container(
    activities: ContainerActivities,
    env: ActivityEnvironment,
    echo_spec: SpecFactory,
    docker_client: Any,
) -> None:
    started = await env.run(activities.start_container, echo_spec())
    try:
        await env.run(
            activities.wait_healthy, WaitHealthyInput(url=started.url, timeout_seconds=15)
        )
        check = HealthCheckInput(
            capability="echo", container_id=started.container_id, url=started.url
        )
        assert await env.run(activities.check_health, check) is True
        docker_client.containers.get(started.container_id).kill()
        assert await env.run(activities.check_health, check) is False
    finally:
        await env.run(
            activities.stop_container, StopContainerInput(container_id=started.container_id)
        )
