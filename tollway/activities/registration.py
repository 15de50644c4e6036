"""Register, unregister and drain a capability's replica through the orchestrator API, as a
BYOC worker would."""

from __future__ import annotations

import asyncio
import time

import httpx
from temporalio import activity

from tollway.byoc.gpus import WorkerListing, WorkerReport
from tollway.byoc.spec import DrainInput, ReplicaLoad, ReplicaRef
from tollway.errors import NoGpuWorker, RegistrationRefused, to_application_error
from tollway.protocol.capability import ExternalCapability

__all__ = ["RegistrationActivities"]

DRAIN_POLL_SECONDS = 0.25


class RegistrationActivities:
    def __init__(self, http: httpx.AsyncClient, orchestrator_url: str, secret: str) -> None:
        self._http = http
        self._url = orchestrator_url.rstrip("/")
        self._secret = secret

    async def _post(self, path: str, content: bytes) -> httpx.Response:
        response = await self._http.post(
            f"{self._url}{path}", content=content, headers={"Authorization": self._secret}
        )
        if response.status_code in (400, 401):
            raise to_application_error(
                RegistrationRefused(f"{path} refused: {response.text[:300]}")
            )
        response.raise_for_status()
        return response

    @activity.defn(name="register_capability")
    async def register(self, capability: ExternalCapability) -> None:
        await self._post("/capability/register", capability.model_dump_json().encode())

    @activity.defn(name="unregister_capability")
    async def unregister(self, replica: ReplicaRef) -> None:
        await self._post("/capability/unregister", replica.model_dump_json().encode())

    @activity.defn(name="replica_load")
    async def load(self, replica: ReplicaRef) -> ReplicaLoad:
        answer = await self._post("/capability/load", replica.model_dump_json().encode())
        return ReplicaLoad.model_validate_json(answer.content)

    @activity.defn(name="gpu_workers")
    async def gpu_workers(self) -> list[WorkerReport]:
        """The GPU workers that report, for placement; none yet is an error retried (the
        workers of a stack just started report within a second or so)."""
        workers = (await self.worker_listing()).workers
        if not workers:
            raise to_application_error(NoGpuWorker("no GPU worker has reported yet"))
        return workers

    @activity.defn(name="worker_listing")
    async def worker_listing(self) -> WorkerListing:
        """The orchestrator's listing of the GPU workers that report, as it is."""
        answer = await self._http.get(
            f"{self._url}/v1/workers", headers={"Authorization": self._secret}
        )
        answer.raise_for_status()
        return WorkerListing.model_validate_json(answer.content)

    @activity.defn(name="drain_replica")
    async def drain(self, request: DrainInput) -> int:
        """Unregister the replica and wait until it has nothing in flight, or the timeout
        passes; returns what was still in flight at the end (0 when drained)."""
        deadline = time.monotonic() + request.timeout_seconds
        body = request.replica.model_dump_json().encode()
        path = "/capability/drain" if request.unregister else "/capability/load"
        while True:
            answer = await self._post(path, body)
            in_flight = int(answer.json()["in_flight"])
            activity.heartbeat(in_flight)
            if in_flight == 0 or time.monotonic() >= deadline:
                return in_flight
            await asyncio.sleep(DRAIN_POLL_SECONDS)
