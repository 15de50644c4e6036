"""The orchestrator's long-lived schedules, created or updated idempotently at worker start."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from tollway.activities.reward import RewardInput
from tollway.workflows.reward import RewardWorkflow

__all__ = ["ensure_reward_schedule", "reward_schedule", "reward_schedule_id"]


def reward_schedule_id(address: str) -> str:
    return f"reward-{address}"


def reward_schedule(address: str, task_queue: str, every: timedelta, initialize: bool) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RewardWorkflow.run,
            RewardInput(address=address, initialize_rounds=initialize),
            id=f"reward-{address}",
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # Never two ticks at once; a missed tick is simply the next one.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=every),
    )


async def ensure_reward_schedule(
    client: Client, address: str, task_queue: str, every: timedelta, initialize: bool
) -> str:
    """Create the reward schedule, or bring an existing one up to date; returns its id."""
    schedule_id = reward_schedule_id(address)
    schedule = reward_schedule(address, task_queue, every, initialize)
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(schedule_id).update(replace)
    return schedule_id
