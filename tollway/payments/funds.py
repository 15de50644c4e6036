"""The gateway's view of its own TicketBroker funds, read from the chain and cached briefly
(concurrent jobs share one read), for go-livepeer's sender-side checks (and the
deposit/reserve gauges)."""

from __future__ import annotations

from typing import Protocol

from tollway import metrics
from tollway.chain.types import SenderInfo
from tollway.errors import TicketParamsExpired, UnacceptableTicketParams
from tollway.payments.memo import Memo
from tollway.protocol.payment import TicketParams

__all__ = ["SenderBroker", "SenderChain", "SenderFunds", "SenderRounds"]

CACHE_SECONDS = 5.0


class SenderRounds(Protocol):
    async def last_initialized_round(self) -> int: ...


class SenderBroker(Protocol):
    async def sender_info(self, address: str) -> SenderInfo: ...


class SenderChain(Protocol):
    async def block_number(self) -> int: ...
    @property
    def rounds(self) -> SenderRounds: ...
    @property
    def broker(self) -> SenderBroker: ...


class SenderFunds:
    def __init__(self, chain: SenderChain, address: str, deposit_multiplier: int = 1) -> None:
        self._chain = chain
        self._address = address
        self._multiplier = deposit_multiplier
        self._reads: Memo[str, tuple[SenderInfo, int, int]] = Memo(CACHE_SECONDS)

    async def _read(self) -> tuple[SenderInfo, int, int]:
        return await self._reads.get("funds", self._fetch)

    async def _fetch(self) -> tuple[SenderInfo, int, int]:
        info = await self._chain.broker.sender_info(self._address)
        block = await self._chain.block_number()
        round_number = await self._chain.rounds.last_initialized_round()
        metrics.DEPOSIT.set(info.deposit)
        metrics.RESERVE.set(info.reserve_funds_remaining)
        return info, block, round_number

    async def check(self, params: TicketParams) -> None:
        """Refuse to sign when our own funds or these params make the tickets unsound."""
        info, block, round_number = await self._read()
        problems = []
        if info.deposit == 0 or info.reserve_funds_remaining == 0:
            problems.append("our TicketBroker deposit or reserve is empty")
        if info.withdraw_round != 0 and info.withdraw_round <= round_number + 1:
            problems.append("our funds are unlocking")
        if params.face_value > info.deposit // self._multiplier:
            problems.append(f"face value {params.face_value} exceeds deposit/{self._multiplier}")
        if problems:
            raise UnacceptableTicketParams("not signing: " + "; ".join(problems))
        if params.expiration_block - block <= 1:  # a kept token's: the job fetches a fresh one
            raise TicketParamsExpired("not signing: ticket params expire within a block")
