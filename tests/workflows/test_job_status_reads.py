"""The gateway reads a job's status from its workflow; one whose workflow task timed out (its
worker starved of CPU past the task timeout, as a soak on two cores showed) refuses queries
until a retry completes, and the job still reads as running instead of a 500 (a real dev
server, a real worker)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any, cast

import pytest
from temporalio import workflow
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from tollway.api.gateway.services import GatewayServices
from tollway.schemas.jobs import JobState, JobStatus

TASK_TIMEOUT = timedelta(seconds=1)


@workflow.defn(name="JobWorkflow")
class StarvedJobWorkflow:
    @workflow.run
    async def run(self, spec: dict[str, Any]) -> None:
        time.sleep(TASK_TIMEOUT.total_seconds() * 1.5)  # every task outlives its timeout
        await workflow.sleep(3600)

    @workflow.query
    def status(self) -> JobStatus:
        return JobStatus(
            job_id=workflow.info().workflow_id, capability="echo", state=JobState.PAYING
        )


async def test_a_job_whose_workflow_task_timed_out_reads_as_running(
    workflow_env: WorkflowEnvironment,
) -> None:
    client = workflow_env.client
    queue = f"failing-task-{uuid.uuid4().hex[:8]}"
    job_id = f"default.{uuid.uuid4().hex}"
    services = GatewayServices(**{name: cast(Any, None) for name in _FIELDS}, temporal=client)
    async with Worker(
        client,
        task_queue=queue,
        workflows=[StarvedJobWorkflow],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await client.start_workflow(
            "JobWorkflow",
            {},
            id=job_id,
            task_queue=queue,
            memo={"capability": "echo"},
            task_timeout=TASK_TIMEOUT,
        )
        await asyncio.sleep(TASK_TIMEOUT.total_seconds() * 2)
    # Its worker gone, the timed-out task waits for a retry that no worker takes yet.
    try:
        with pytest.raises(RPCError) as refused:  # what the gateway is up against
            await handle.query(StarvedJobWorkflow.status)
        assert refused.value.status == RPCStatusCode.FAILED_PRECONDITION
        status = await services.job_status(job_id)
    finally:
        await handle.terminate()
    assert status.job_id == job_id
    assert status.capability == "echo"
    assert status.state == JobState.RUNNING


_FIELDS = (
    "settings",
    "artifacts",
    "market",
    "live",
    "trickle",
    "relays",
    "tenants",
    "idempotency",
    "budgets",
    "jobs",
    "rate_limits",
    "webhooks",
)
