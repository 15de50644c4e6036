"""The runtime contract the GPU worker's activities are written against, and the router that
picks a replica's runtime: Docker for container replicas, Triton for model-file replicas.

Docker is connected on first use, so a host without a Docker engine still serves Triton.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from tollway.byoc.spec import BuildImageInput, ContainerInfo, ContainerSpec, StartedContainer
from tollway.byoc.triton_runtime import TritonRuntime, is_triton_id
from tollway.errors import WorkerFailed

__all__ = ["ContainerRuntime", "Runtimes"]


class ContainerRuntime(Protocol):
    """Blocking calls: async callers run them in a thread.

    Failures raise `WorkerFailed` when another try may succeed, `ContainerSetupFailed` when not.
    """

    def build_image(self, request: BuildImageInput) -> str:
        """Build `request.context_dir` as `request.tag`; returns the image id."""
        ...

    def start(self, spec: ContainerSpec) -> StartedContainer:
        """Start a hardened container, reachable on a 127.0.0.1 port once it is healthy."""
        ...

    def networks(self) -> list[str]:
        """CIDRs of the networks its replicas listen on beside loopback."""
        ...

    def stop(self, container_id: str) -> None:
        """Stop and remove the container; a container already gone is not an error."""
        ...

    def list_containers(self, labels: Mapping[str, str] | None = None) -> list[ContainerInfo]:
        """Every container this runtime started (running or not) that carries all `labels`."""
        ...

    def status(self, container_id: str) -> str | None:
        """Docker's status of one container ("running", "exited", ...); None when it is gone."""
        ...

    def logs(self, container_id: str, tail: int = 100) -> str:
        """The last `tail` lines of the container's stdout and stderr."""
        ...


class Runtimes:
    def __init__(self, triton: TritonRuntime, docker: Callable[[], ContainerRuntime]) -> None:
        self.triton = triton
        self._connect_docker = docker
        self._docker: ContainerRuntime | None = None

    @property
    def docker(self) -> ContainerRuntime:
        if self._docker is None:
            self._docker = self._connect_docker()
        return self._docker

    def networks(self) -> list[str]:
        """CIDRs where replicas listen beside loopback; none when Docker does not answer."""
        try:
            return self.triton.networks() + self.docker.networks()
        except WorkerFailed:
            return self.triton.networks()

    def for_spec(self, spec: ContainerSpec) -> ContainerRuntime:
        return self.triton if spec.triton is not None else self.docker

    def for_container(self, container_id: str) -> ContainerRuntime:
        return self.triton if is_triton_id(container_id) else self.docker
