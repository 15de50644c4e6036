"""tollway's Ticket.hash() equals the contract's getTicketHash for arbitrary tickets."""

from __future__ import annotations

import pytest
from eth_utils.address import to_checksum_address
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tollway.chain.client import ChainClient
from tollway.protocol.ticket import MAX_UINT256, ZERO_HASH, Ticket

pytestmark = pytest.mark.chain

addresses = st.binary(min_size=20, max_size=20).map(to_checksum_address)
uint256s = st.integers(min_value=0, max_value=MAX_UINT256)
bytes32s = st.binary(min_size=32, max_size=32)
# (creationRound, blockHash); (0, zero) is the legacy empty auxData.
aux = st.one_of(st.tuples(uint256s, bytes32s), st.just((0, ZERO_HASH)))


@settings(max_examples=150, deadline=None)
@given(
    recipient=addresses,
    sender=addresses,
    face_value=uint256s,
    win_prob=uint256s,
    nonce=uint256s,
    rand_hash=bytes32s,
    round_and_hash=aux,
)
@example(
    recipient="0x" + "00" * 20,
    sender="0x" + "ff" * 20,
    face_value=MAX_UINT256,
    win_prob=0,
    nonce=2**32 - 1,
    rand_hash=ZERO_HASH,
    round_and_hash=(MAX_UINT256, b"\xff" * 32),
)
async def test_ticket_hash_matches_contract(
    chain: ChainClient,
    recipient: str,
    sender: str,
    face_value: int,
    win_prob: int,
    nonce: int,
    rand_hash: bytes,
    round_and_hash: tuple[int, bytes],
) -> None:
    ticket = Ticket(
        recipient=recipient,
        sender=sender,
        face_value=face_value,
        win_prob=win_prob,
        sender_nonce=nonce,
        recipient_rand_hash=rand_hash,
        creation_round=round_and_hash[0],
        creation_round_block_hash=round_and_hash[1],
    )
    assert await chain.broker.get_ticket_hash(ticket) == ticket.hash()
