"""Temporal activities that build, start, health-check and stop BYOC containers.

A replica is a Docker container or a Triton process (`spec.triton`); each activity picks the
runtime by the spec or the container id. Runtimes block (the Docker SDK), so each call runs in a
thread and the event loop stays free for heartbeats and other activities.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from temporalio import activity

from tollway import metrics
from tollway.byoc.health import wait_healthy
from tollway.byoc.runtime import Runtimes
from tollway.byoc.spec import (
    REPLICA_LABEL,
    WORKER_LABEL,
    BuildImageInput,
    ContainerSpec,
    HealthCheckInput,
    StartedContainer,
    StopContainerInput,
    WaitHealthyInput,
)
from tollway.byoc.trickle_bridge import TrickleBridges, trickle_url_inside
from tollway.errors import ContainerSetupFailed, TollwayError, WorkerFailed, to_application_error

__all__ = ["ContainerActivities"]

HEALTH_CHECK_TIMEOUT_SECONDS = 3.0


class ContainerActivities:
    def __init__(
        self, runtimes: Runtimes, worker_id: str = "", bridges: TrickleBridges | None = None
    ) -> None:
        self._runtimes = runtimes
        self._worker_id = worker_id
        """Put on each container it starts (WORKER_LABEL)."""
        self._bridges = bridges
        """Bridges the orchestrator's trickle server into stream containers; None when this
        worker has no orchestrator to bridge to."""

    def all(self) -> list[Callable[..., Any]]:
        """For `Worker(activities=...)`."""
        return [
            self.build_image,
            self.start_container,
            self.wait_healthy,
            self.check_health,
            self.stop_container,
        ]

    @activity.defn(name="build_image")
    async def build_image(self, request: BuildImageInput) -> str:
        """Build the image; returns its id."""
        try:
            return await asyncio.to_thread(self._runtimes.docker.build_image, request)
        except TollwayError as exc:
            raise to_application_error(exc) from exc

    @activity.defn(name="start_container")
    async def start_container(self, spec: ContainerSpec) -> StartedContainer:
        """Start the replica's container, or take over the one an earlier attempt of this
        start left running (found by its replica label): never two for one replica."""
        try:
            started = await asyncio.to_thread(self._start_once, spec)
            if spec.trickle_port is not None:
                await self._bridge(started, spec.trickle_port)
                started = started.model_copy(
                    update={"trickle_url": trickle_url_inside(spec.trickle_port)}
                )
            return started
        except TollwayError as exc:
            raise to_application_error(exc) from exc

    async def _bridge(self, started: StartedContainer, port: int) -> None:
        if self._bridges is None:
            raise ContainerSetupFailed(
                "this GPU worker has no orchestrator_url, so it cannot bridge a stream "
                "container to the orchestrator's trickle server"
            )
        await self.sync_bridges()
        if started.container_id not in self._bridges.bridged:
            raise WorkerFailed(
                f"could not bridge trickle into {started.name} at 127.0.0.1:{port}",
                container=started.name,
            )

    async def sync_bridges(self) -> None:
        """Bridge every running stream container (after a restart, the ones it left)."""
        if self._bridges is not None:
            containers = await asyncio.to_thread(self._runtimes.docker.list_containers)
            await self._bridges.sync(containers)

    def _start_once(self, spec: ContainerSpec) -> StartedContainer:
        if self._worker_id:
            spec = spec.model_copy(
                update={"labels": {**spec.labels, WORKER_LABEL: self._worker_id}}
            )
        runtime = self._runtimes.for_spec(spec)
        replica = spec.labels.get(REPLICA_LABEL)
        if replica is not None:
            for found in runtime.list_containers({REPLICA_LABEL: replica}):
                if found.status == "running" and found.url and found.host_port:
                    return StartedContainer(
                        container_id=found.container_id,
                        name=found.name,
                        url=found.url,
                        host_port=found.host_port,
                    )
                runtime.stop(found.container_id)  # a dead leftover: remove it
        started = runtime.start(spec)
        metrics.CONTAINER_STARTS.labels(spec.capability).inc()
        return started

    @activity.defn(name="check_health")
    async def check_health(self, request: HealthCheckInput) -> bool:
        """One look: is the container running and does its health route answer 200?"""
        try:
            runtime = self._runtimes.for_container(request.container_id)
            running = await asyncio.to_thread(runtime.status, request.container_id)
        except TollwayError as exc:
            raise to_application_error(exc) from exc
        healthy = running == "running"
        if healthy:
            try:
                await wait_healthy(request.url, request.health_path, HEALTH_CHECK_TIMEOUT_SECONDS)
            except TollwayError:
                healthy = False
        metrics.CONTAINER_HEALTHY.labels(request.capability, request.container_id[:12]).set(
            1 if healthy else 0
        )
        return healthy

    @activity.defn(name="wait_healthy")
    async def wait_healthy(self, request: WaitHealthyInput) -> None:
        """Heartbeats the attempt number on each poll, so a heartbeat timeout catches a hang."""
        on_attempt = activity.heartbeat if activity.in_activity() else None
        try:
            await wait_healthy(
                request.url, request.health_path, request.timeout_seconds, on_attempt
            )
        except TollwayError as exc:
            raise to_application_error(exc) from exc

    @activity.defn(name="stop_container")
    async def stop_container(self, request: StopContainerInput) -> None:
        try:
            runtime = self._runtimes.for_container(request.container_id)
            await asyncio.to_thread(runtime.stop, request.container_id)
        except TollwayError as exc:
            raise to_application_error(exc) from exc
