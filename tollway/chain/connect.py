"""A ChainClient from a role's chain settings (one place that knows the addresses' shape)."""

from __future__ import annotations

from tollway.chain.addresses import ContractAddresses
from tollway.chain.client import ChainClient
from tollway.config import ChainSettings

__all__ = ["chain_client"]


def chain_client(settings: ChainSettings, receipt_timeout: float = 120.0) -> ChainClient:
    contracts = ContractAddresses(
        ticket_broker=settings.ticket_broker, rounds_manager=settings.rounds_manager
    )
    return ChainClient(
        settings.rpc_url,
        contracts,
        receipt_timeout=receipt_timeout,
        fallback_urls=settings.fallback_rpc_urls,
    )
