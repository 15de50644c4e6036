"""LivepeerToken: the LPT an orchestrator must hold, and approve to the BondingManager, before
it can bond stake."""

from __future__ import annotations

from eth_utils.address import to_checksum_address

from tollway.chain.engine import ContractView

__all__ = ["LivepeerToken"]


class LivepeerToken(ContractView):
    CONTRACT = "LivepeerToken"

    async def balance(self, address: str) -> int:
        """LPT held by `address`, in its smallest unit."""
        return int(await self._call("balanceOf", to_checksum_address(address)))

    async def transfer(self, key: bytes, to: str, amount: int) -> str:
        return await self._send(key, "transfer", to_checksum_address(to), amount)

    async def approve(self, key: bytes, spender: str, amount: int) -> str:
        return await self._send(key, "approve", to_checksum_address(spender), amount)
