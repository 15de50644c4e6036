"""GPU worker: container activities on this host's own task queue (CPU-only here is fine)."""

from __future__ import annotations

import logging

from temporalio.worker import Worker

from tollway.activities.containers import ContainerActivities
from tollway.byoc.docker_runtime import DockerRuntime
from tollway.byoc.gpus import read_gpus
from tollway.config import GpuWorkerSettings
from tollway.temporal import connect
from tollway.workers.run import run_until_signalled, serve_metrics

log = logging.getLogger("tollway.gpu")


async def run(settings: GpuWorkerSettings) -> None:
    inventory = read_gpus()
    log.info("GPU worker %s: %s", settings.worker_id, inventory.describe())
    client = await connect(settings.temporal_address, settings.namespace)
    serve_metrics(settings.metrics_port)  # `tollway up` reads it as "ready"
    containers = ContainerActivities(DockerRuntime())
    worker = Worker(client, task_queue=settings.task_queue, activities=containers.all())
    await run_until_signalled(worker)
