"""The orchestrator's reward schedule on the real stack: triggered twice in one round, reward()
is called once and the minted LPT is recorded."""

from __future__ import annotations

import asyncio
import time

from temporalio.client import WorkflowExecutionStatus

from tests.e2e.stack_client import StackClient
from tollway.temporal import connect
from tollway.workers.schedules import reward_schedule_id


async def test_schedule_rewards_once_per_round(stack: StackClient) -> None:
    state = stack.state
    client = await connect(state.endpoints.temporal_address, "orchestrator")
    schedule = client.get_schedule_handle(reward_schedule_id(state.orchestrator_address))
    async with stack.chain() as chain:
        current = await chain.rounds.current_round()
        await schedule.trigger()
        deadline = time.monotonic() + 60
        while await chain.bonding.last_reward_round(state.orchestrator_address) < current:
            assert time.monotonic() < deadline, "reward() was not called"
            await asyncio.sleep(0.5)
        await schedule.trigger()
        await asyncio.sleep(3)  # let the second tick run
        bonding = await chain.contract("BondingManager")
        rewards = await bonding.events.Reward().get_logs(from_block=0)
        mine = [r for r in rewards if r["args"]["transcoder"] == state.orchestrator_address]
        assert len(mine) == 1
        assert mine[0]["args"]["amount"] > 0
    # Every tick of the schedule so far (ours, and those it made on its own since the stack
    # started: its description lists only the last ten, so they are found by the id Temporal
    # stamps on what a schedule starts): in this round exactly one rewarded and recorded what
    # was minted, and all the others found it done.
    schedule_id = reward_schedule_id(state.orchestrator_address)
    ticks = [
        execution.id
        async for execution in client.list_workflows(f"TemporalScheduledById = '{schedule_id}'")
        if execution.status == WorkflowExecutionStatus.COMPLETED
    ]
    assert len(ticks) >= 2
    outcomes = [await client.get_workflow_handle(tick).result() for tick in ticks]
    this_round = [o for o in outcomes if o["round"] == current]
    rewarded = [o for o in this_round if o["action"] == "rewarded"]
    assert len(rewarded) == 1, this_round
    assert all(o["action"] == "already rewarded" for o in this_round if o not in rewarded)
    assert rewarded[0]["minted"] == mine[0]["args"]["amount"]
