"""Plain records read from the chain (no web3 import, so payments code can use them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = [
    "BatchRedemption",
    "DelegatorInfo",
    "Redemption",
    "RewardReceipt",
    "SenderInfo",
    "TicketOutcome",
    "TranscoderInfo",
    "UnbondingLock",
]


class SenderInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    deposit: int
    withdraw_round: int
    reserve_funds_remaining: int
    reserve_claimed_in_current_round: int


class Redemption(BaseModel):
    model_config = ConfigDict(frozen=True)

    tx_hash: str
    block_number: int
    gas_used: int
    effective_gas_price: int
    amount: int
    """Wei credited to the recipient as fees per WinningTicketTransfer (below faceValue if the
    sender's deposit and the recipient's share of its reserve ran short)."""


class TicketOutcome(BaseModel):
    """One ticket of a batch redemption."""

    model_config = ConfigDict(frozen=True)

    ticket_hash: str
    redeemed: bool
    """True when the ticket's WinningTicketRedeemed event is in the receipt."""
    amount: int
    """Wei credited to the recipient as fees (0 when not redeemed or when funds ran out)."""


class BatchRedemption(BaseModel):
    model_config = ConfigDict(frozen=True)

    tx_hash: str
    block_number: int
    gas_used: int
    effective_gas_price: int
    tickets: list[TicketOutcome]
    """In the order the tickets were given."""


class TranscoderInfo(BaseModel):
    """BondingManager.getTranscoder plus the transcoder's total stake and status this round."""

    model_config = ConfigDict(frozen=True)

    address: str
    last_reward_round: int
    reward_cut: int
    """Parts per million (BondingManager.PERC_DIVISOR) of rewards the transcoder keeps."""
    fee_share: int
    """Parts per million of fees passed on to its delegators."""
    last_active_stake_update_round: int
    activation_round: int
    deactivation_round: int
    active_stake: int
    cumulative_rewards: int
    cumulative_fees: int
    last_fee_round: int
    total_stake: int
    registered: bool
    active: bool


class DelegatorInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    bonded_amount: int
    fees: int
    delegate_address: str
    delegated_amount: int
    start_round: int
    last_claim_round: int
    next_unbonding_lock_id: int


class UnbondingLock(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    amount: int
    withdraw_round: int


class RewardReceipt(BaseModel):
    model_config = ConfigDict(frozen=True)

    tx_hash: str
    block_number: int
    amount: int
    """LPT (wei units) minted for the transcoder and its delegators."""
