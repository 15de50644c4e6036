"""Round and reward activities for RewardWorkflow: read the round, initialize it, call reward().

Each checks the chain before it sends, so a retry after a crash never calls twice in a round.
"""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity

from tollway import metrics
from tollway.activities.heartbeat import heartbeating
from tollway.chain.client import ChainClient
from tollway.errors import ChainError, RoundPassed, to_application_error

__all__ = ["RewardActivities", "RewardInput", "RewardOutcome", "RoundStatus"]


class RewardInput(BaseModel):
    address: str
    initialize_rounds: bool = False
    round: int | None = None


class RoundStatus(BaseModel):
    current_round: int
    initialized: bool
    active: bool
    last_reward_round: int


class RewardOutcome(BaseModel):
    round: int
    action: str
    tx_hash: str | None = None
    minted: int = 0


class RewardActivities:
    def __init__(self, chain: ChainClient, private_key: bytes) -> None:
        self._chain = chain
        self._key = private_key

    @activity.defn(name="round_status")
    async def round_status(self, address: str) -> RoundStatus:
        status = RoundStatus(
            current_round=await self._chain.rounds.current_round(),
            initialized=await self._chain.rounds.current_round_initialized(),
            active=await self._chain.bonding.is_active_transcoder(address),
            last_reward_round=await self._chain.bonding.last_reward_round(address),
        )
        metrics.ROUND_CURRENT.set(status.current_round)
        metrics.REWARD_LAST_ROUND.set(status.last_reward_round)
        metrics.TRANSCODER_ACTIVE.set(int(status.active))
        return status

    @activity.defn(name="initialize_round")
    async def initialize_round(self) -> None:
        await heartbeating(self._initialize_round())

    async def _initialize_round(self) -> None:
        if await self._chain.rounds.current_round_initialized():
            return
        try:
            await self._chain.rounds.initialize_round(self._key)
        except ChainError as exc:
            if "already initialized" not in exc.message:
                raise

    @activity.defn(name="call_reward")
    async def call_reward(self, request: RewardInput) -> RewardOutcome:
        return await heartbeating(self._call_reward(request))

    async def _call_reward(self, request: RewardInput) -> RewardOutcome:
        current = await self._chain.rounds.current_round()
        if request.round is not None and current != request.round:
            raise to_application_error(
                RoundPassed(
                    f"round moved on to {current} before reward() for round {request.round}"
                )
            )
        if await self._chain.bonding.last_reward_round(request.address) >= current:
            return RewardOutcome(round=current, action="already rewarded")
        try:
            receipt = await self._chain.bonding.reward(self._key)
        except ChainError as exc:
            if "already called reward" in exc.message:
                return RewardOutcome(round=current, action="already rewarded")
            raise
        metrics.REWARD_LAST_ROUND.set(current)
        return RewardOutcome(
            round=current, action="rewarded", tx_hash=receipt.tx_hash, minted=receipt.amount
        )
