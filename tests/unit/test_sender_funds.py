"""The gateway's sender-side checks against its own on-chain funds."""

from __future__ import annotations

import pytest

from tollway.chain.types import SenderInfo
from tollway.errors import TicketParamsExpired, UnacceptableTicketParams
from tollway.payments.funds import SenderFunds
from tollway.protocol.payment import TicketParams

from .stand_ins import InMemoryChainView

ME = "0x" + "ab" * 20


def params(face_value: int, expiration_block: int) -> TicketParams:
    return TicketParams(
        recipient="0x" + "cd" * 20,
        face_value=face_value,
        win_prob=1,
        recipient_rand_hash=b"\x01" * 32,
        seed=b"\x02" * 32,
        expiration_block=expiration_block,
        creation_round=1,
        creation_round_block_hash=b"\x03" * 32,
    )


def funds(deposit: int, reserve: int, withdraw_round: int = 0) -> SenderInfo:
    return SenderInfo(
        deposit=deposit,
        withdraw_round=withdraw_round,
        reserve_funds_remaining=reserve,
        reserve_claimed_in_current_round=0,
    )


async def test_sound_params_pass() -> None:
    chain = InMemoryChainView(block=100)
    chain.senders[ME] = funds(10**18, 10**18)
    await SenderFunds(chain, ME, deposit_multiplier=2).check(params(5 * 10**17, 140))


@pytest.mark.parametrize(
    ("info", "face_value", "expiration", "problem"),
    [
        (funds(0, 10**18), 1, 140, "deposit or reserve is empty"),
        (funds(10**18, 0), 1, 140, "deposit or reserve is empty"),
        (funds(10**18, 10**18, withdraw_round=11), 1, 140, "unlocking"),
        (funds(10**18, 10**18), 6 * 10**17, 140, "exceeds deposit/2"),
    ],
)
async def test_unsound_tickets_are_not_signed(
    info: SenderInfo, face_value: int, expiration: int, problem: str
) -> None:
    chain = InMemoryChainView(block=100, round_number=10)
    chain.senders[ME] = info
    with pytest.raises(UnacceptableTicketParams, match=problem):
        await SenderFunds(chain, ME, deposit_multiplier=2).check(params(face_value, expiration))


async def test_params_about_to_expire_ask_for_a_fresh_token() -> None:
    """Not a refusal of the orchestrator: its kept token aged, so the job fetches a new one."""
    chain = InMemoryChainView(block=100, round_number=10)
    chain.senders[ME] = funds(10**18, 10**18)
    with pytest.raises(TicketParamsExpired, match="expire within a block"):
        await SenderFunds(chain, ME).check(params(1, 101))
