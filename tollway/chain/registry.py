"""ServiceRegistry: where an orchestrator publishes the URI gateways find it at, so discovery
needs nothing but the chain."""

from __future__ import annotations

from eth_utils.address import to_checksum_address

from tollway.chain.engine import ContractView

__all__ = ["ServiceRegistry"]


class ServiceRegistry(ContractView):
    CONTRACT = "ServiceRegistry"

    async def service_uri(self, address: str) -> str:
        """The URI `address` registered ("" when none)."""
        return str(await self._call("getServiceURI", to_checksum_address(address)))

    async def set_service_uri(self, key: bytes, uri: str) -> str:
        return await self._send(key, "setServiceURI", uri)
