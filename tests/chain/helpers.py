"""Shared helpers for the chain tests (anvil RPC extras, parties, ticket building)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from web3.exceptions import ContractLogicError
from web3.types import RPCEndpoint, Wei

from tollway.chain.client import ChainClient
from tollway.chain.engine import revert_reason
from tollway.devnet.chain_setup import mine_to_round as mine_to_round
from tollway.protocol.signing import sign_digest
from tollway.protocol.ticket import MAX_UINT256, Ticket, recipient_rand_hash

ETHER = 10**18
_nonces = itertools.count(1)


@dataclass(frozen=True)
class Party:
    key: bytes
    address: str

    @classmethod
    def from_key(cls, key: bytes) -> Party:
        return cls(key=key, address=Account.from_key(key).address)


async def rpc(chain: ChainClient, method: str, *params: Any) -> Any:
    """A raw JSON-RPC call (anvil_* / evm_* methods web3 does not wrap)."""
    response = await chain.w3.provider.make_request(RPCEndpoint(method), list(params))
    if "error" in response:
        raise AssertionError(f"{method} failed: {response['error']}")
    return response.get("result")


async def set_balance(chain: ChainClient, address: str, wei: int) -> None:
    await rpc(chain, "anvil_setBalance", address, hex(wei))


async def ensure_round_initialized(chain: ChainClient, key: bytes) -> None:
    if not await chain.rounds.current_round_initialized():
        await chain.rounds.initialize_round(key)


async def make_ticket(
    chain: ChainClient,
    sender: str,
    recipient: str,
    *,
    face_value: int = ETHER // 10,
    win_prob: int = MAX_UINT256,
    recipient_rand: int = 42,
    nonce: int | None = None,
) -> Ticket:
    """A ticket stamped with the last initialized round and its block hash."""
    round_ = await chain.rounds.last_initialized_round()
    return Ticket(
        recipient=recipient,
        sender=sender,
        face_value=face_value,
        win_prob=win_prob,
        sender_nonce=next(_nonces) if nonce is None else nonce,
        recipient_rand_hash=recipient_rand_hash(recipient_rand),
        creation_round=round_,
        creation_round_block_hash=await chain.rounds.block_hash_for_round(round_),
    )


def sign(party: Party, ticket: Ticket) -> bytes:
    return sign_digest(party.key, ticket.hash())


async def new_party(chain: ChainClient, seed: int, ether: int = 100) -> Party:
    """A fresh account (key derived from `seed`) holding `ether` ETH and nothing else."""
    party = Party.from_key(seed.to_bytes(32, "big"))
    await set_balance(chain, party.address, ether * ETHER)
    return party


async def call_reason(
    chain: ChainClient, contract: str, method: str, *args: Any, sender: str, value: int = 0
) -> str | None:
    """eth_call of `contract.method(*args)` from `sender`: None if it succeeds, else the reason."""
    function = (await chain.contract(contract)).functions[method](*args)
    try:
        await function.call({"from": sender, "value": Wei(value)})
    except ContractLogicError as exc:
        return revert_reason(exc)
    return None


async def view(chain: ChainClient, contract: str, method: str, *args: Any) -> Any:
    return await (await chain.contract(contract)).functions[method](*args).call()
