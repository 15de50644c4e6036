"""NetworkSnapshotWorkflow refreshes on its interval, answers how many orchestrators it knows,
and continues as new so its history stays small (stand-in refresh activity, real dev server)."""

from __future__ import annotations

import asyncio
import uuid

from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tollway.workflows.network import NetworkSnapshotInput, NetworkSnapshotWorkflow


async def test_refreshes_and_continues_as_new(workflow_env: WorkflowEnvironment) -> None:
    refreshes = 0

    @activity.defn(name="refresh_network")
    async def stand_in_refresh() -> int:
        nonlocal refreshes
        refreshes += 1
        return 10 + refreshes

    queue = f"network-{uuid.uuid4()}"
    async with Worker(
        workflow_env.client,
        task_queue=queue,
        workflows=[NetworkSnapshotWorkflow],
        activities=[stand_in_refresh],
    ):
        handle = await workflow_env.client.start_workflow(
            NetworkSnapshotWorkflow.run,
            NetworkSnapshotInput(interval_seconds=0.2, refreshes_per_run=2),
            id=f"network-{uuid.uuid4()}",
            task_queue=queue,
        )
        first_run = (await handle.describe()).run_id
        for _ in range(100):
            if refreshes >= 5:
                break
            await asyncio.sleep(0.1)
        assert refreshes >= 5
        latest = workflow_env.client.get_workflow_handle(handle.id)
        assert await latest.query(NetworkSnapshotWorkflow.known) > 10
        description = await latest.describe()
        assert description.run_id != first_run  # continued as new after 2 refreshes
        assert description.status == WorkflowExecutionStatus.RUNNING
        await latest.terminate("test over")
