"""Devnet-only helpers: advance rounds on anvil and make an address an active orchestrator."""

from __future__ import annotations

from eth_account import Account
from web3.types import RPCEndpoint

from tollway.chain.client import ChainClient
from tollway.chain.types import TranscoderInfo
from tollway.devnet.deploy import LPT
from tollway.errors import ChainError

__all__ = [
    "DEFAULT_STAKE",
    "activate_orchestrator",
    "mine_blocks",
    "mine_to_round",
    "start_next_round",
]

DEFAULT_STAKE = 1_000 * LPT
DEFAULT_REWARD_CUT = 100_000  # 10% of rewards, in parts per million
DEFAULT_FEE_SHARE = 500_000  # 50% of fees go to delegators


async def mine_blocks(chain: ChainClient, count: int) -> None:
    """Mine `count` empty blocks with anvil_mine.

    anvil takes about a second per thousand blocks on a fresh chain and slows as the chain grows,
    so keep rounds short (tests) or start the chain just before a round (`anvil --number`).
    """
    if count <= 0:
        return
    response = await chain.w3.provider.make_request(RPCEndpoint("anvil_mine"), [hex(count)])
    if "error" in response:
        raise ChainError(f"anvil_mine failed: {response['error']}", reverted=False)


async def mine_to_round(chain: ChainClient, round_: int) -> None:
    """Mine until `round_` is the current round, leaving it uninitialized (if it was not)."""
    target = round_ * await chain.rounds.round_length()
    await mine_blocks(chain, target - await chain.block_number())
    current = await chain.rounds.current_round()
    if current != round_:
        raise ChainError(f"cannot mine back to round {round_}: round {current} is current")


async def start_next_round(chain: ChainClient, key: bytes) -> int:
    """Mine to the next round and initialize it from `key`; returns the new round."""
    round_ = await chain.rounds.current_round() + 1
    await mine_to_round(chain, round_)
    await chain.rounds.initialize_round(key)
    return round_


async def activate_orchestrator(
    chain: ChainClient,
    deployer_key: bytes,
    orchestrator_key: bytes,
    *,
    stake: int = DEFAULT_STAKE,
    reward_cut: int = DEFAULT_REWARD_CUT,
    fee_share: int = DEFAULT_FEE_SHARE,
    service_uri: str | None = None,
) -> TranscoderInfo:
    """Make `orchestrator_key`'s address an active transcoder from the next round, and start it.

    The deployer (holder of the genesis LPT) sends `stake` LPT; the orchestrator, which needs ETH
    for gas, approves and bonds it to itself, sets its cuts and service URI. Activation takes
    effect next round, so this mines to it and initializes it.
    """
    address = Account.from_key(orchestrator_key).address
    if not await chain.rounds.current_round_initialized():
        await chain.rounds.initialize_round(deployer_key)
    bonding_manager = (await chain.contract("BondingManager")).address
    await chain.token.transfer(deployer_key, address, stake)
    await chain.token.approve(orchestrator_key, bonding_manager, stake)
    await chain.bonding.bond(orchestrator_key, stake, address)
    await chain.bonding.set_transcoder(orchestrator_key, reward_cut, fee_share)
    if service_uri is not None:
        await chain.registry.set_service_uri(orchestrator_key, service_uri)
    await start_next_round(chain, deployer_key)
    info = await chain.bonding.transcoder(address)
    if not info.active:
        raise ChainError(
            f"{address} is not active with {stake} LPT: the transcoder pool is full of larger "
            "stakes",
            reverted=False,
        )
    return info
