"""ChainClient plumbing: nonces under concurrency, transfers, transport faults."""

from __future__ import annotations

import asyncio

import pytest

from tollway.chain.client import ChainClient
from tollway.errors import ChainError
from tollway.netutil import free_port

from .helpers import Party

pytestmark = pytest.mark.chain


async def test_concurrent_transfers_from_one_key(
    isolated: ChainClient, stranger: Party, recipient: Party
) -> None:
    chain = isolated
    before = await chain.balance(recipient.address)
    hashes = await asyncio.gather(
        *(chain.transfer(stranger.key, recipient.address, 7) for _ in range(5))
    )
    assert len(set(hashes)) == 5
    assert await chain.balance(recipient.address) - before == 35


async def test_transport_fault_is_not_a_revert(chain: ChainClient) -> None:
    async with ChainClient(f"http://127.0.0.1:{free_port()}", chain.contracts) as dead:
        with pytest.raises(ChainError) as caught:
            await dead.block_number()
    assert caught.value.details["reverted"] is False


async def test_fails_over_to_the_next_rpc_url(chain: ChainClient) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with ChainClient(dead, chain.contracts, fallback_urls=[chain.rpc_url]) as client:
        with pytest.raises(ChainError) as caught:
            await client.block_number()
        assert caught.value.details["reverted"] is False
        assert caught.value.details["next_rpc_url"] == chain.rpc_url
        # The retry reaches the live node, for reads and contract calls alike.
        assert await client.block_number() == await chain.block_number()
        assert await client.current_round() == await chain.current_round()
