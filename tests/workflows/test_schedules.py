"""The reward schedule is created once and updated in place on every worker start."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.client import ScheduleActionStartWorkflow, ScheduleIntervalSpec
from temporalio.testing import WorkflowEnvironment

from tollway.workers.schedules import ensure_reward_schedule


async def test_create_then_update_in_place(workflow_env: WorkflowEnvironment) -> None:
    client = workflow_env.client
    address = "0x" + uuid.uuid4().hex[:40]
    first = await ensure_reward_schedule(client, address, "q", timedelta(seconds=30), False)
    again = await ensure_reward_schedule(client, address, "q", timedelta(seconds=10), True)
    assert first == again
    description = await client.get_schedule_handle(first).describe()
    [interval] = description.schedule.spec.intervals
    assert isinstance(interval, ScheduleIntervalSpec)
    assert interval.every == timedelta(seconds=10)
    action = description.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == "RewardWorkflow"
    await client.get_schedule_handle(first).delete()
