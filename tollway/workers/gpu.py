"""GPU worker: container activities on this host's own task queue (CPU-only here is fine)."""

from __future__ import annotations

import logging

from temporalio.worker import Worker

from tollway.activities.containers import ContainerActivities
from tollway.byoc.docker_runtime import DockerRuntime
from tollway.config import GpuWorkerSettings
from tollway.temporal import connect
from tollway.workers.run import run_until_signalled, serve_metrics

log = logging.getLogger("tollway.gpu")


def detect_gpus() -> list[str]:
    """GPU names seen by NVML; empty (CPU-only mode) when there is no driver or device."""
    try:
        import pynvml  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return []
    try:
        count = pynvml.nvmlDeviceGetCount()
        return [
            str(pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(i)))
            for i in range(count)
        ]
    finally:
        pynvml.nvmlShutdown()


async def run(settings: GpuWorkerSettings) -> None:
    gpus = detect_gpus()
    log.info("GPU worker %s: %s", settings.worker_id, gpus or "no GPU found; CPU-only mode")
    client = await connect(settings.temporal_address, settings.namespace)
    serve_metrics(settings.metrics_port)  # `tollway up` reads it as "ready"
    containers = ContainerActivities(DockerRuntime())
    worker = Worker(client, task_queue=settings.task_queue, activities=containers.all())
    await run_until_signalled(worker)
