"""The GPU worker's runtimes: Docker for container replicas, Triton for model-file replicas.

Docker is connected on first use, so a host without a Docker engine still serves Triton.
"""

from __future__ import annotations

from collections.abc import Callable

from tollway.byoc.runtime import ContainerRuntime
from tollway.byoc.spec import ContainerSpec
from tollway.byoc.triton_runtime import TritonRuntime, is_triton_id


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

    def for_spec(self, spec: ContainerSpec) -> ContainerRuntime:
        return self.triton if spec.triton is not None else self.docker

    def for_container(self, container_id: str) -> ContainerRuntime:
        return self.triton if is_triton_id(container_id) else self.docker
