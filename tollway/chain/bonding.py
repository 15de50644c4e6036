"""BondingManager: who may be paid and rewarded. An orchestrator bonds stake, sets its cuts and
calls reward() each round; redemption and discovery ask it who is active; delegators bond,
unbond and withdraw here."""

from __future__ import annotations

import asyncio
from typing import Any

from eth_utils.address import to_checksum_address
from web3.logs import DISCARD
from web3.types import TxReceipt

from tollway.chain.engine import ChainEngine, ContractView, tx_hash
from tollway.chain.rounds import RoundsManager
from tollway.chain.types import DelegatorInfo, RewardReceipt, TranscoderInfo, UnbondingLock

__all__ = ["BondingManager"]

_TRANSCODER_FIELDS = (
    "last_reward_round",
    "reward_cut",
    "fee_share",
    "last_active_stake_update_round",
    "activation_round",
    "deactivation_round",
    "active_stake",
    "cumulative_rewards",
    "cumulative_fees",
    "last_fee_round",
)
"""getTranscoder's return values, in order, as TranscoderInfo names them."""

_DELEGATOR_FIELDS = (
    "bonded_amount",
    "fees",
    "delegate_address",
    "delegated_amount",
    "start_round",
    "last_claim_round",
    "next_unbonding_lock_id",
)
"""getDelegator's return values, in order, as DelegatorInfo names them."""


class BondingManager(ContractView):
    CONTRACT = "BondingManager"

    def __init__(self, engine: ChainEngine) -> None:
        super().__init__(engine)
        self._rounds = RoundsManager(engine)

    async def _round_or_current(self, end_round: int | None) -> int:
        return await self._rounds.current_round() if end_round is None else end_round

    # ---- reads ---------------------------------------------------------------------------

    async def is_active_transcoder(self, address: str) -> bool:
        """Whether `address` is in the current round's active set."""
        return bool(await self._call("isActiveTranscoder", to_checksum_address(address)))

    async def transcoder_pool_size(self) -> int:
        return int(await self._call("getTranscoderPoolSize"))

    async def transcoder_pool(self) -> list[str]:
        """The addresses in the transcoder pool (getFirst/getNextTranscoderInPool order)."""
        members: list[str] = []
        address = str(await self._call("getFirstTranscoderInPool"))
        while int(address, 16) != 0:
            members.append(address)
            address = str(await self._call("getNextTranscoderInPool", address))
        return members

    async def transcoder(self, address: str) -> TranscoderInfo:
        checksum = to_checksum_address(address)
        fields, total_stake, registered, active = await asyncio.gather(
            self._call("getTranscoder", checksum),
            self._call("transcoderTotalStake", checksum),
            self._call("isRegisteredTranscoder", checksum),
            self._call("isActiveTranscoder", checksum),
        )
        return TranscoderInfo(
            address=checksum,
            **dict(zip(_TRANSCODER_FIELDS, fields, strict=True)),
            total_stake=total_stake,
            registered=registered,
            active=active,
        )

    async def last_reward_round(self, address: str) -> int:
        fields = await self._call("getTranscoder", to_checksum_address(address))
        return int(fields[0])

    async def delegator(self, address: str) -> DelegatorInfo:
        fields = await self._call("getDelegator", to_checksum_address(address))
        return DelegatorInfo(**dict(zip(_DELEGATOR_FIELDS, fields, strict=True)))

    async def unbonding_lock(self, address: str, lock_id: int) -> UnbondingLock:
        amount, withdraw_round = await self._call(
            "getDelegatorUnbondingLock", to_checksum_address(address), lock_id
        )
        return UnbondingLock(id=lock_id, amount=amount, withdraw_round=withdraw_round)

    async def pending_stake(self, address: str, end_round: int | None = None) -> int:
        """Bonded LPT with unclaimed rewards (end_round defaults to the current round)."""
        end = await self._round_or_current(end_round)
        return int(await self._call("pendingStake", to_checksum_address(address), end))

    async def pending_fees(self, address: str, end_round: int | None = None) -> int:
        """Withdrawable fees in wei, unclaimed ones included."""
        end = await self._round_or_current(end_round)
        return int(await self._call("pendingFees", to_checksum_address(address), end))

    # ---- transactions --------------------------------------------------------------------

    async def set_transcoder(self, key: bytes, reward_cut: int, fee_share: int) -> str:
        """BondingManager.transcoder(rewardCut, feeShare), both in parts per million."""
        return await self._send(key, "transcoder", reward_cut, fee_share)

    async def bond(self, key: bytes, amount: int, to: str) -> str:
        """Bond `amount` LPT (approved to the BondingManager first) to `to`."""
        return await self._send(key, "bond", amount, to_checksum_address(to))

    async def unbond(self, key: bytes, amount: int) -> UnbondingLock:
        args = await self._event_args(await self._transact(key, "unbond", amount), "Unbond")
        return UnbondingLock(
            id=args["unbondingLockId"], amount=args["amount"], withdraw_round=args["withdrawRound"]
        )

    async def withdraw_stake(self, key: bytes, unbonding_lock_id: int) -> str:
        return await self._send(key, "withdrawStake", unbonding_lock_id)

    async def claim_earnings(self, key: bytes, end_round: int | None = None) -> str:
        return await self._send(key, "claimEarnings", await self._round_or_current(end_round))

    async def withdraw_fees(self, key: bytes, recipient: str, amount: int) -> str:
        """Pay `amount` wei of the caller's fees to `recipient`."""
        return await self._send(key, "withdrawFees", to_checksum_address(recipient), amount)

    async def reward(self, key: bytes) -> RewardReceipt:
        """Mint this round's reward for the caller, an active transcoder (once per round)."""
        receipt = await self._transact(key, "reward")
        args = await self._event_args(receipt, "Reward")
        return RewardReceipt(
            tx_hash=tx_hash(receipt), block_number=receipt["blockNumber"], amount=args["amount"]
        )

    async def _event_args(self, receipt: TxReceipt, event: str) -> Any:
        """The arguments of the one `event` the transaction of `receipt` emitted."""
        (log,) = (await self.contract()).events[event]().process_receipt(receipt, errors=DISCARD)
        return log["args"]
