"""The container runtime contract the orchestrator's activities are written against."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from tollway.byoc.spec import BuildImageInput, ContainerInfo, ContainerSpec, StartedContainer


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
