"""One handle on the deployed protocol: the engine's chain-wide calls (blocks, gas, ETH transfers,
any contract method) plus a view per contract, so every role shares one connection, one RPC
failover and one set of nonce locks whichever contracts it uses.

    async with ChainClient(rpc_url, contracts) as chain:
        await chain.rounds.current_round()
        await chain.broker.sender_info(address)
"""

from __future__ import annotations

from functools import cached_property

from tollway.chain.bonding import BondingManager
from tollway.chain.broker import TicketBroker
from tollway.chain.engine import ChainEngine
from tollway.chain.registry import ServiceRegistry
from tollway.chain.rounds import RoundsManager
from tollway.chain.token import LivepeerToken

__all__ = ["ChainClient"]


class ChainClient(ChainEngine):
    """The engine, with each contract's view built on first use."""

    rounds = cached_property(RoundsManager)
    broker = cached_property(TicketBroker)
    bonding = cached_property(BondingManager)
    token = cached_property(LivepeerToken)
    registry = cached_property(ServiceRegistry)
