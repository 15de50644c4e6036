"""GPU worker: container activities on this host's own task queue (CPU-only here is fine).

It reports itself (task queue and GPUs) to its orchestrator every `report_every_seconds`, so
declared capabilities are placed on it and gateways see its hardware in `/v1/info`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
from temporalio.worker import Worker

from tollway.activities.containers import ContainerActivities
from tollway.byoc.docker_runtime import DockerRuntime
from tollway.byoc.gpus import GpuInventory, WorkerReport, read_gpus
from tollway.byoc.runtime import Runtimes
from tollway.byoc.trickle_bridge import TrickleBridges
from tollway.byoc.triton_runtime import TritonRuntime
from tollway.config import GpuWorkerSettings
from tollway.errors import TollwayError
from tollway.temporal import connect
from tollway.workers.run import run_until_signalled, serve_metrics

__all__ = ["bridge_forever", "report_forever", "run"]

log = logging.getLogger("tollway.gpu")
RETRY_SECONDS = 1.0
BRIDGE_SYNC_SECONDS = 2.0


async def report_forever(
    settings: GpuWorkerSettings, first: GpuInventory, runtimes: Runtimes
) -> None:
    """POST this worker's report to the orchestrator, re-reading the GPUs and the container
    networks each time."""
    assert settings.orchestrator_url is not None
    url = settings.orchestrator_url.rstrip("/") + "/v1/workers"
    inventory = first
    networks = await asyncio.to_thread(runtimes.networks)
    failing = False
    async with httpx.AsyncClient(timeout=10) as http:
        while True:
            report = WorkerReport(
                worker_id=settings.worker_id,
                task_queue=settings.task_queue,
                inventory=inventory,
                report_every_seconds=settings.report_every_seconds,
                networks=networks,
            )
            try:
                answer = await http.post(
                    url,
                    content=report.model_dump_json(),
                    headers={"Authorization": settings.orchestrator_secret},
                )
                answer.raise_for_status()
                if failing:
                    log.info("reporting to %s again", url)
                failing = False
            except httpx.HTTPError as exc:
                if not failing:
                    log.warning("cannot report to %s (retrying): %r", url, exc)
                failing = True
            await asyncio.sleep(RETRY_SECONDS if failing else settings.report_every_seconds)
            inventory = await asyncio.to_thread(read_gpus)
            networks = await asyncio.to_thread(runtimes.networks)


async def bridge_forever(containers: ContainerActivities) -> None:
    """Keep the stream containers' trickle bridges in step with the running containers."""
    while True:
        try:
            await containers.sync_bridges()
        except TollwayError as exc:
            log.warning("cannot sync trickle bridges (retrying): %s", exc.message)
        await asyncio.sleep(BRIDGE_SYNC_SECONDS)


async def run(settings: GpuWorkerSettings) -> None:
    inventory = read_gpus()
    log.info("GPU worker %s: %s", settings.worker_id, inventory.describe())
    client = await connect(settings.temporal_address, settings.namespace, settings.temporal_auth)
    serve_metrics(settings.metrics_port, settings.metrics_host)  # `tollway up` reads it as "ready"
    runtimes = Runtimes(TritonRuntime(settings.triton_dir), DockerRuntime)
    bridges = None
    if settings.orchestrator_url:
        bridges = TrickleBridges(settings.orchestrator_url, settings.worker_id)
    containers = ContainerActivities(runtimes, settings.worker_id, bridges)
    worker = Worker(client, task_queue=settings.task_queue, activities=containers.all())
    background: list[asyncio.Task[None]] = []
    if settings.orchestrator_url:
        background.append(asyncio.create_task(report_forever(settings, inventory, runtimes)))
        background.append(asyncio.create_task(bridge_forever(containers)))
    try:
        await run_until_signalled(worker)
    finally:
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if bridges is not None:
            await bridges.close()
