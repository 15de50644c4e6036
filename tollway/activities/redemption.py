"""Redeem winning tickets on-chain exactly once, in batches when there are several.

Before sending, each ticket is checked: already used (reconciled with its transaction),
expired on-chain (refused for good, no gas spent), or params not yet expired (it waits:
revealing recipientRand earlier would let the sender predict which of its other tickets under
the same params win). Reverts that are final are told apart from faults worth retrying.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from temporalio import activity

from tollway import metrics
from tollway.activities.heartbeat import heartbeating
from tollway.chain.types import BatchRedemption, Redemption, SenderInfo
from tollway.errors import (
    ChainError,
    ChainFault,
    ParamsNotExpired,
    RecipientNotActive,
    to_application_error,
)
from tollway.payments.winners import RedemptionBatch, TicketResult, WinningTicket
from tollway.protocol.ticket import Ticket

__all__ = [
    "RedemptionActivities",
    "RedemptionBonding",
    "RedemptionBroker",
    "RedemptionChain",
    "RedemptionRounds",
]

TICKET_VALIDITY_ROUNDS = 2
"""A ticket is redeemable in its creation round and the next."""

RETRYABLE_REVERTS = ("round is not initialized",)
REDEEM_GAS = 150_000
"""Gas of one redeemWinningTicket (measured ~124k-178k on the devnet; bench/redeem_gas.py)."""


class RedemptionRounds(Protocol):
    async def current_round(self) -> int: ...


class RedemptionBroker(Protocol):
    async def used_ticket(self, ticket_hash: bytes) -> bool: ...
    async def sender_info(self, address: str) -> SenderInfo: ...
    async def claimable_reserve(self, reserve_holder: str, claimant: str) -> int: ...
    async def find_redemption(self, ticket: Ticket, from_block: int = 0) -> str | None: ...
    async def redeem_winning_ticket(
        self, key: bytes, ticket: Ticket, sig: bytes, recipient_rand: int
    ) -> Redemption: ...
    async def batch_redeem_winning_tickets(
        self, key: bytes, redemptions: Sequence[tuple[Ticket, bytes, int]]
    ) -> BatchRedemption: ...


class RedemptionBonding(Protocol):
    async def is_active_transcoder(self, address: str) -> bool: ...


class RedemptionChain(Protocol):
    """The chain as redemption needs it (ChainClient; a stand-in in unit tests)."""

    @property
    def rounds(self) -> RedemptionRounds: ...
    @property
    def broker(self) -> RedemptionBroker: ...
    @property
    def bonding(self) -> RedemptionBonding: ...
    async def block_number(self) -> int: ...
    async def gas_price(self) -> int: ...


class RedemptionActivities:
    def __init__(self, chain: RedemptionChain, private_key: bytes) -> None:
        self._chain = chain
        self._key = private_key

    async def _already_redeemed(self, winner: WinningTicket) -> TicketResult:
        tx_hash = await self._chain.broker.find_redemption(winner.ticket())
        return TicketResult(ticket_hash=winner.ticket_hash, state="redeemed", tx_hash=tx_hash)

    async def _worth_sending(self, winner: WinningTicket, tx_cost: int) -> bool:
        """go-livepeer's check: the sender's deposit plus what we may claim from its reserve
        must exceed the transaction's cost (otherwise the ticket waits for funds)."""
        info = await self._chain.broker.sender_info(winner.sender)
        claimable = await self._chain.broker.claimable_reserve(winner.sender, winner.recipient)
        return info.deposit + claimable > tx_cost and winner.face_value > tx_cost

    async def _check(self, winner: WinningTicket, block: int, round_: int) -> TicketResult | None:
        """The ticket's outcome when it must not be sent now; None when it is ready."""
        ticket = winner.ticket()
        if "0x" + ticket.hash().hex() != winner.ticket_hash:
            return TicketResult(
                ticket_hash=winner.ticket_hash, state="failed", reason="ticket_hash mismatch"
            )
        if await self._chain.broker.used_ticket(ticket.hash()):
            return await self._already_redeemed(winner)
        if winner.creation_round + TICKET_VALIDITY_ROUNDS <= round_:
            reason = f"ticket expired on-chain (created in round {winner.creation_round})"
            return TicketResult(ticket_hash=winner.ticket_hash, state="failed", reason=reason)
        if block <= winner.params_expiration_block:
            return TicketResult(ticket_hash=winner.ticket_hash, state="waiting")
        return None

    async def _redeem_one(self, winner: WinningTicket) -> TicketResult:
        try:
            redemption = await self._chain.broker.redeem_winning_ticket(
                self._key, winner.ticket(), winner.signature, winner.recipient_rand
            )
        except ChainError as exc:
            metrics.REDEMPTION_ERRORS.inc()
            retryable = any(r in exc.message for r in RETRYABLE_REVERTS)
            if not exc.details.get("reverted") or retryable:
                raise
            if "ticket is used" in exc.message:
                return await self._already_redeemed(winner)
            reason = f"redemption refused: {exc.message}"
            return TicketResult(ticket_hash=winner.ticket_hash, state="failed", reason=reason)
        metrics.TICKETS_REDEEMED.inc()
        metrics.TICKET_VALUE_REDEEMED.inc(redemption.amount)
        return TicketResult(
            ticket_hash=winner.ticket_hash,
            state="redeemed",
            tx_hash=redemption.tx_hash,
            amount=redemption.amount,
        )

    async def _redeem_many(self, winners: list[WinningTicket]) -> list[TicketResult]:
        batch = await self._chain.broker.batch_redeem_winning_tickets(
            self._key, [(w.ticket(), w.signature, w.recipient_rand) for w in winners]
        )
        results = []
        for winner, outcome in zip(winners, batch.tickets, strict=True):
            if outcome.redeemed:
                metrics.TICKETS_REDEEMED.inc()
                metrics.TICKET_VALUE_REDEEMED.inc(outcome.amount)
                results.append(
                    TicketResult(
                        ticket_hash=winner.ticket_hash,
                        state="redeemed",
                        tx_hash=batch.tx_hash,
                        amount=outcome.amount,
                    )
                )
            else:  # a batch does not say why: one more single try tells final from transient
                results.append(await self._redeem_one(winner))
        return results

    @activity.defn(name="redeem_batch")
    async def redeem_batch(self, batch: RedemptionBatch) -> list[TicketResult]:
        """Redeem every ready ticket of `batch`; a batch with nothing ready waits (by retry)."""
        return await heartbeating(self._redeem_batch(batch))

    async def _redeem_batch(self, batch: RedemptionBatch) -> list[TicketResult]:
        try:
            block = await self._chain.block_number()
            round_ = await self._chain.rounds.current_round()
            if batch.tickets and not await self._chain.bonding.is_active_transcoder(
                batch.tickets[0].recipient
            ):
                raise to_application_error(
                    RecipientNotActive(
                        f"{batch.tickets[0].recipient} is not an active orchestrator this round"
                    )
                )
            tx_cost = REDEEM_GAS * await self._chain.gas_price()
            results: dict[str, TicketResult] = {}
            ready = []
            for winner in batch.tickets:
                checked = await self._check(winner, block, round_)
                if checked is None and not await self._worth_sending(winner, tx_cost):
                    checked = TicketResult(ticket_hash=winner.ticket_hash, state="waiting")
                if checked is None:
                    ready.append(winner)
                else:
                    results[winner.ticket_hash] = checked
            if not ready and all(r.state == "waiting" for r in results.values()):
                raise to_application_error(
                    ParamsNotExpired(
                        "waiting: ticket params not expired, or sender funds below the tx cost"
                    )
                )
            if len(ready) == 1:
                results[ready[0].ticket_hash] = await self._redeem_one(ready[0])
            elif ready:
                for result in await self._redeem_many(ready):
                    results[result.ticket_hash] = result
        except ChainError as exc:  # RPC down, nonce race, receipt timeout: retried
            metrics.REDEMPTION_ERRORS.inc()
            raise to_application_error(ChainFault(f"chain fault: {exc.message}")) from exc
        return [results[w.ticket_hash] for w in batch.tickets]
