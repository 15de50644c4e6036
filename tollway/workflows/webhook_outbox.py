"""Starting delivery workflows: for each delivery the outbox holds that none was started for
(from any gateway worker: the workflow id makes a second start a no-op), and for a replay."""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from tollway.store.webhooks import WebhookStore
from tollway.workflows.webhook import WebhookDeliveryInput, WebhookDeliveryWorkflow

__all__ = ["delivery_workflow_id", "dispatch_forever", "dispatch_new", "start_delivery"]

log = logging.getLogger("tollway.webhooks")


def delivery_workflow_id(delivery_id: str, replay: int = 0) -> str:
    return f"webhook-{delivery_id}" + (f"-replay-{replay}" if replay else "")


async def start_delivery(
    client: Client,
    task_queue: str,
    retry_seconds: list[float],
    delivery_id: str,
    replay: int = 0,
) -> None:
    """Start the delivery's workflow (its `replay`th replay), once: a workflow of that id,
    running or closed, is that delivery."""
    try:
        await client.start_workflow(
            WebhookDeliveryWorkflow.run,
            WebhookDeliveryInput(delivery_id=delivery_id, retry_seconds=retry_seconds),
            id=delivery_workflow_id(delivery_id, replay),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        pass


async def dispatch_new(
    store: WebhookStore, client: Client, task_queue: str, retry_seconds: list[float]
) -> int:
    """Start a workflow for every delivery not yet started; how many."""
    started = 0
    while batch := await store.undispatched():
        for delivery_id in batch:
            await start_delivery(client, task_queue, retry_seconds, delivery_id)
            await store.mark_dispatched(delivery_id)
            started += 1
    return started


async def dispatch_forever(
    store: WebhookStore,
    client: Client,
    task_queue: str,
    retry_seconds: list[float],
    every_seconds: float,
) -> None:
    while True:
        try:
            await dispatch_new(store, client, task_queue, retry_seconds)
        except Exception:
            log.exception("starting webhook deliveries failed; trying again shortly")
        await asyncio.sleep(every_seconds)
