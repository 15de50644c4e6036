"""Plain records read from the chain (no web3 import, so payments code can use them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


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
    """Wei paid to the recipient per WinningTicketTransfer (below faceValue if funds ran short)."""
