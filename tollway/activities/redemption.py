"""Redeem one winning ticket on-chain exactly once, reconciling with `usedTickets` on retry."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from tollway import metrics
from tollway.chain.client import ChainClient
from tollway.errors import ChainError
from tollway.payments.models import Redeemed, WinningTicket

TICKET_VALIDITY_ROUNDS = 2
"""A ticket is redeemable in its creation round and the next (reference 2.10)."""


class RedemptionActivities:
    def __init__(self, chain: ChainClient, private_key: bytes) -> None:
        self._chain = chain
        self._key = private_key

    async def _already_redeemed(self, winner: WinningTicket) -> Redeemed:
        tx_hash = await self._chain.find_redemption(winner.ticket())
        return Redeemed(
            ticket_hash=winner.ticket_hash,
            tx_hash=tx_hash or "",
            face_value=winner.face_value,
            sender=winner.sender,
            already_used=True,
        )

    @activity.defn(name="redeem_ticket")
    async def redeem(self, winner: WinningTicket) -> Redeemed:
        ticket = winner.ticket()
        if "0x" + ticket.hash().hex() != winner.ticket_hash:
            raise ApplicationError(
                "ticket_hash does not match the ticket",
                type="RedemptionRefused",
                non_retryable=True,
            )
        try:
            if await self._chain.used_ticket(ticket.hash()):
                return await self._already_redeemed(winner)
            if winner.creation_round + TICKET_VALIDITY_ROUNDS <= await self._chain.current_round():
                raise ApplicationError(
                    f"ticket expired on-chain (created in round {winner.creation_round})",
                    type="RedemptionRefused",
                    non_retryable=True,
                )
            if await self._chain.block_number() <= winner.params_expiration_block:
                # Revealing recipientRand before the params expire would let the sender predict
                # which of its other tickets under the same params win.
                raise ApplicationError(
                    f"waiting for params to expire at block {winner.params_expiration_block}",
                    type="ParamsNotExpired",
                    next_retry_delay=timedelta(seconds=1),
                )
            redemption = await self._chain.redeem_winning_ticket(
                self._key, ticket, winner.signature, winner.recipient_rand
            )
        except ChainError as exc:
            metrics.REDEMPTION_ERRORS.inc()
            if not exc.details.get("reverted") or "round is not initialized" in exc.message:
                raise
            if "ticket is used" in exc.message:
                return await self._already_redeemed(winner)
            raise ApplicationError(
                f"redemption refused: {exc.message}", type="RedemptionRefused", non_retryable=True
            ) from exc
        metrics.TICKETS_REDEEMED.inc()
        return Redeemed(
            ticket_hash=winner.ticket_hash,
            tx_hash=redemption.tx_hash,
            face_value=redemption.amount,
            sender=winner.sender,
        )
