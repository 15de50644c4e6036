"""RewardWorkflow calls reward() at most once per round, with stand-in chain activities."""

from __future__ import annotations

import uuid

from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tollway.activities.reward import RewardInput, RewardOutcome, RoundStatus
from tollway.workflows.reward import RewardWorkflow, RoundRewardWorkflow


class StandInRounds:
    """A chain with rounds: `reward` records calls; `forget_reward` mimics a crash after the
    transaction was sent but before lastRewardRound was read back."""

    def __init__(self) -> None:
        self.round = 5
        self.initialized = True
        self.active = True
        self.last_reward_round = 4
        self.rewards: list[int] = []
        self.initializations = 0
        self.hide_last_reward = False

    @activity.defn(name="round_status")
    async def status(self, address: str) -> RoundStatus:
        return RoundStatus(
            current_round=self.round,
            initialized=self.initialized,
            active=self.active,
            last_reward_round=0 if self.hide_last_reward else self.last_reward_round,
        )

    @activity.defn(name="initialize_round")
    async def initialize(self) -> None:
        self.initializations += 1
        self.initialized = True

    @activity.defn(name="call_reward")
    async def reward(self, request: RewardInput) -> RewardOutcome:
        assert request.round == self.round
        self.rewards.append(self.round)
        self.last_reward_round = self.round
        return RewardOutcome(round=self.round, action="rewarded", tx_hash="0xabc", minted=7)


async def test_reward_once_per_round(workflow_env: WorkflowEnvironment) -> None:
    chain = StandInRounds()
    queue = f"reward-{uuid.uuid4()}"
    address = "0x" + uuid.uuid4().hex[:40]

    async def tick(**flags: bool) -> RewardOutcome:
        return await workflow_env.client.execute_workflow(
            RewardWorkflow.run,
            RewardInput(address=address, **flags),
            id=f"tick-{uuid.uuid4()}",
            task_queue=queue,
        )

    async with Worker(
        workflow_env.client,
        task_queue=queue,
        workflows=[RewardWorkflow, RoundRewardWorkflow],
        activities=[chain.status, chain.initialize, chain.reward],
    ):
        first = await tick()
        assert (first.action, first.minted, first.tx_hash) == ("rewarded", 7, "0xabc")
        assert (await tick()).action == "already rewarded"
        # Even if the chain read lags (say a crash right after the reward transaction), the
        # round's child workflow id refuses a second call.
        chain.hide_last_reward = True
        assert (await tick()).action == "already rewarded"
        chain.hide_last_reward = False

        chain.round, chain.initialized = 6, False
        assert (await tick()).action == "round not initialized"
        assert (await tick(initialize_rounds=True)).action == "rewarded"
        assert chain.initializations == 1

        chain.round, chain.active = 7, False
        assert (await tick(initialize_rounds=True)).action == "not active"
    assert chain.rewards == [5, 6]
