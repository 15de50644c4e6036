"""Temporal activities that build, start, health-check and stop BYOC containers.

The runtime is blocking (the Docker SDK), so each call runs in a thread and the event loop
stays free for heartbeats and other activities.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from temporalio import activity

from tollway.byoc.health import wait_healthy
from tollway.byoc.runtime import ContainerRuntime
from tollway.byoc.spec import (
    BuildImageInput,
    ContainerSpec,
    StartedContainer,
    StopContainerInput,
    WaitHealthyInput,
)
from tollway.errors import TollwayError, to_application_error


class ContainerActivities:
    def __init__(self, runtime: ContainerRuntime) -> None:
        self._runtime = runtime

    def all(self) -> list[Callable[..., Any]]:
        """For `Worker(activities=...)`."""
        return [self.build_image, self.start_container, self.wait_healthy, self.stop_container]

    @activity.defn(name="build_image")
    async def build_image(self, request: BuildImageInput) -> str:
        """Build the image; returns its id."""
        try:
            return await asyncio.to_thread(self._runtime.build_image, request)
        except TollwayError as exc:
            raise to_application_error(exc) from exc

    @activity.defn(name="start_container")
    async def start_container(self, spec: ContainerSpec) -> StartedContainer:
        try:
            return await asyncio.to_thread(self._runtime.start, spec)
        except TollwayError as exc:
            raise to_application_error(exc) from exc

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
            await asyncio.to_thread(self._runtime.stop, request.container_id)
        except TollwayError as exc:
            raise to_application_error(exc) from exc
