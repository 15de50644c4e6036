"""RoundsManager: the protocol's clock. Tickets, rewards and stake all count in its rounds, so
every role reads the round from here and the deployer (or anyone) starts each new one."""

from __future__ import annotations

from tollway.chain.engine import ContractView

__all__ = ["RoundsManager"]


class RoundsManager(ContractView):
    CONTRACT = "RoundsManager"

    async def round_length(self) -> int:
        return int(await self._call("roundLength"))

    async def current_round(self) -> int:
        return int(await self._call("currentRound"))

    async def current_round_initialized(self) -> bool:
        return bool(await self._call("currentRoundInitialized"))

    async def last_initialized_round(self) -> int:
        return int(await self._call("lastInitializedRound"))

    async def block_hash_for_round(self, round_: int) -> bytes:
        return bytes(await self._call("blockHashForRound", round_))

    async def current_round_start_block(self) -> int:
        return int(await self._call("currentRoundStartBlock"))

    async def initialize_round(self, key: bytes) -> str:
        return await self._send(key, "initializeRound")
