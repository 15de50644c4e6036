"""tollway's winning check and recipientRand commitment agree with the TicketBroker for random
tickets (random winProb, recipientRand and auxData of the current round), judged by eth_call
of redeemWinningTicket from the active orchestrator."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tollway.chain.client import ChainClient
from tollway.protocol.ticket import MAX_UINT256, is_winning

from .helpers import Party, make_ticket, sign

pytestmark = pytest.mark.chain

uint256s = st.integers(min_value=0, max_value=MAX_UINT256)
win_probs = uint256s  # uniform odds: about half the tickets win


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(win_prob=win_probs, recipient_rand=uint256s, nonce=st.integers(0, 2**32 - 1))
async def test_winning_rule_matches_the_contract(
    chain: ChainClient,
    sender: Party,
    recipient: Party,
    win_prob: int,
    recipient_rand: int,
    nonce: int,
) -> None:
    ticket = await make_ticket(
        chain,
        sender.address,
        recipient.address,
        face_value=10**12,
        win_prob=win_prob,
        recipient_rand=recipient_rand,
        nonce=nonce,
    )
    sig = sign(sender, ticket)
    verdict = await chain.broker.simulate_redeem(ticket, sig, recipient_rand, recipient.address)
    assert verdict == (None if is_winning(sig, recipient_rand, win_prob) else "ticket did not win")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(committed=uint256s, revealed=uint256s)
async def test_recipient_rand_commitment_matches_the_contract(
    chain: ChainClient, sender: Party, recipient: Party, committed: int, revealed: int
) -> None:
    ticket = await make_ticket(chain, sender.address, recipient.address, recipient_rand=committed)
    sig = sign(sender, ticket)
    verdict = await chain.broker.simulate_redeem(ticket, sig, revealed, recipient.address)
    if revealed == committed:
        assert verdict is None
    else:
        assert verdict == "recipientRand does not match recipientRandHash"
