"""Docker-backed fixtures: one echo image per session, and every test container removed after.

These tests need a Docker engine; without one they error rather than skip.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tollway.byoc.docker_runtime import DockerRuntime
from tollway.byoc.spec import BuildImageInput, ContainerSpec, StartedContainer

REPO_ROOT = Path(__file__).resolve().parents[2]
ECHO_CONTEXT = REPO_ROOT / "examples" / "echo"
ECHO_TAG = "tollway/echo:test"
TEST_LABEL = "tollway.test-session"
SESSION_ID = uuid.uuid4().hex[:12]


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        pytest.fail(f"these tests need a Docker engine (run scripts/setup.sh): {exc}")
    yield client
    leftovers = client.containers.list(all=True, filters={"label": f"{TEST_LABEL}={SESSION_ID}"})
    for container in leftovers:
        container.remove(force=True)
    client.close()


@pytest.fixture(scope="session")
def runtime(docker_client: Any) -> DockerRuntime:
    return DockerRuntime(docker_client)


@pytest.fixture(scope="session")
def echo_build() -> BuildImageInput:
    return BuildImageInput(context_dir=str(ECHO_CONTEXT), tag=ECHO_TAG)


@pytest.fixture(scope="session")
def echo_image(runtime: DockerRuntime, echo_build: BuildImageInput) -> str:
    started = time.perf_counter()
    image_id = runtime.build_image(echo_build)
    print(f"\nbuilt {ECHO_TAG} in {time.perf_counter() - started:.2f}s")
    return image_id


@pytest.fixture(scope="session")
def session_labels() -> dict[str, str]:
    """Carried by every test container, so the session can sweep up what a test leaves."""
    return {TEST_LABEL: SESSION_ID}


@pytest.fixture(scope="session")
def echo_spec(session_labels: dict[str, str]) -> Callable[..., ContainerSpec]:
    def make(**overrides: Any) -> ContainerSpec:
        labels = {**session_labels, **overrides.pop("labels", {})}
        fields: dict[str, Any] = {"capability": "echo", "image": ECHO_TAG, **overrides}
        return ContainerSpec(labels=labels, **fields)

    return make


@pytest.fixture
def start_echo(
    runtime: DockerRuntime, echo_image: str, echo_spec: Callable[..., ContainerSpec]
) -> Iterator[Callable[..., StartedContainer]]:
    """Starts echo containers and stops each one when the test ends."""
    started: list[StartedContainer] = []

    def start(**overrides: Any) -> StartedContainer:
        container = runtime.start(echo_spec(**overrides))
        started.append(container)
        return container

    yield start
    for container in started:
        runtime.stop(container.container_id)
