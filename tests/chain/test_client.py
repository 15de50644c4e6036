"""ChainClient plumbing: nonces under concurrency, transfers, transport faults."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from eth_account import Account
from web3.types import RPCEndpoint

from tollway.chain.client import ChainClient
from tollway.devnet.anvil import dev_account_key
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
        assert await client.rounds.current_round() == await chain.rounds.current_round()


async def test_a_stuck_transaction_is_replaced_with_higher_fees(chain: ChainClient) -> None:
    provider = chain.w3.provider
    key = dev_account_key(5)
    to = Account.create().address
    impatient = ChainClient(chain.rpc_url, chain.contracts, receipt_timeout=1.0)
    await provider.make_request(RPCEndpoint("evm_setAutomine"), [False])
    try:
        sending = asyncio.create_task(impatient.transfer(key, to, 12345))
        await asyncio.sleep(0.5)
        first = await provider.make_request(RPCEndpoint("txpool_content"), [])
        await asyncio.sleep(1.1)  # past the first receipt timeout: the replacement is out
        pending = await provider.make_request(RPCEndpoint("txpool_content"), [])
        await provider.make_request(RPCEndpoint("evm_mine"), [])
        tx_hash = await sending
    finally:
        await provider.make_request(RPCEndpoint("evm_setAutomine"), [True])
        await impatient.aclose()
    sender = Account.from_key(key).address.lower()

    def queued(pool: Any) -> list[dict[str, Any]]:
        return [
            tx
            for address, by_nonce in pool["result"]["pending"].items()
            if address.lower() == sender
            for tx in by_nonce.values()
        ]

    [original], [replacement] = queued(first), queued(pending)
    assert replacement["hash"] != original["hash"]  # replaced in the pool, same nonce
    assert replacement["nonce"] == original["nonce"]
    assert int(replacement["maxFeePerGas"], 16) > int(original["maxFeePerGas"], 16)
    assert replacement["hash"] == tx_hash  # and the replacement is what was mined
    assert await chain.balance(to) == 12345
