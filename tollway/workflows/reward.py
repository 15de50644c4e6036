"""RewardWorkflow: started by a Temporal Schedule several times per round; initializes the
round when configured to and calls `reward()` at most once per round while active.

Once per round is enforced twice: each round's work runs as a child workflow whose id names
the round (Temporal refuses a second one), and the activity checks `lastRewardRound` on-chain
before sending, so a worker killed mid-call cannot make it pay twice.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from tollway.activities.heartbeat import HEARTBEAT_TIMEOUT
    from tollway.activities.reward import RewardActivities, RewardInput, RewardOutcome, RoundStatus

__all__ = ["RewardWorkflow", "RoundRewardWorkflow"]

CHAIN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=20),
    maximum_attempts=10,
)


@workflow.defn(name="RewardWorkflow")
class RewardWorkflow:
    @workflow.run
    async def run(self, request: RewardInput) -> RewardOutcome:
        status = await self._status(request)
        if not status.initialized:
            if not request.initialize_rounds:
                return RewardOutcome(round=status.current_round, action="round not initialized")
            await workflow.execute_activity_method(
                RewardActivities.initialize_round,
                start_to_close_timeout=timedelta(minutes=2),
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=CHAIN_RETRY,
            )
            status = await self._status(request)
        if not status.active:
            return RewardOutcome(round=status.current_round, action="not active")
        if status.last_reward_round >= status.current_round:
            return RewardOutcome(round=status.current_round, action="already rewarded")
        try:
            return await workflow.execute_child_workflow(
                RoundRewardWorkflow.run,
                request.model_copy(update={"round": status.current_round}),
                id=f"reward-{request.address}-round-{status.current_round}",
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            return RewardOutcome(round=status.current_round, action="already rewarded")

    async def _status(self, request: RewardInput) -> RoundStatus:
        status: RoundStatus = await workflow.execute_activity_method(
            RewardActivities.round_status,
            request.address,
            start_to_close_timeout=timedelta(seconds=15),
            retry_policy=CHAIN_RETRY,
        )
        return status


@workflow.defn(name="RoundRewardWorkflow")
class RoundRewardWorkflow:
    """One round's reward call; its workflow id names the round."""

    @workflow.run
    async def run(self, request: RewardInput) -> RewardOutcome:
        outcome: RewardOutcome = await workflow.execute_activity_method(
            RewardActivities.call_reward,
            request,
            start_to_close_timeout=timedelta(minutes=2),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=CHAIN_RETRY,
        )
        return outcome
