"""Retention: a finished job's input and output are removed when they expire (or when its
tenant deletes them); its record in the job index stays, saying so. Finished webhook deliveries
leave the delivery log after their own retention, with their attempts."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from tollway.store.artifacts import ArtifactStore
from tollway.store.database import utc_now
from tollway.store.jobs import JobIndex
from tollway.store.live import LiveOutputs
from tollway.store.webhooks import WebhookStore

__all__ = ["remove_expired", "remove_expired_forever", "remove_job_data"]

log = logging.getLogger("tollway.retention")


async def remove_job_data(
    index: JobIndex, artifacts: ArtifactStore, live: LiveOutputs, job_id: str
) -> None:
    for artifact in await index.artifacts(job_id):
        artifacts.remove(artifact)
    live.remove(job_id)
    await index.mark_removed(job_id)


async def remove_expired(index: JobIndex, artifacts: ArtifactStore, live: LiveOutputs) -> int:
    """Remove every expired job's data now; how many jobs'."""
    removed = 0
    while batch := await index.expired(utc_now()):
        for job_id, kept in batch:
            for artifact in kept:
                artifacts.remove(artifact)
            live.remove(job_id)
            await index.mark_removed(job_id)
            removed += 1
    return removed


async def remove_expired_forever(
    index: JobIndex,
    artifacts: ArtifactStore,
    live: LiveOutputs,
    every_seconds: float,
    webhooks: WebhookStore,
    webhook_log_seconds: float,
) -> None:
    while True:
        try:
            removed = await remove_expired(index, artifacts, live)
            if removed:
                log.info("removed the expired data of %d job(s)", removed)
            pruned = await webhooks.prune(utc_now() - timedelta(seconds=webhook_log_seconds))
            if pruned:
                log.info("removed %d finished webhook deliveries from the log", pruned)
        except Exception:
            log.exception("removing expired job data failed; trying again later")
        await asyncio.sleep(every_seconds)
