"""Payment records shared by the orchestrator API and its redemption workflow."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from tollway.protocol.ticket import Ticket

__all__ = ["RedemptionBatch", "TicketResult", "WinningTicket"]


class WinningTicket(BaseModel):
    """Everything `redeemWinningTicket` needs, plus the ticket hash computed once by the
    orchestrator API (workflows compare hashes but never compute them)."""

    ticket_hash: str
    recipient: str
    sender: str
    face_value: int
    win_prob: int
    sender_nonce: int
    recipient_rand_hash: str
    creation_round: int
    creation_round_block_hash: str
    sig: str
    recipient_rand: int
    params_expiration_block: int

    @classmethod
    def of(
        cls, ticket: Ticket, sig: bytes, recipient_rand: int, expiration_block: int
    ) -> WinningTicket:
        return cls(
            ticket_hash="0x" + ticket.hash().hex(),
            recipient=ticket.recipient,
            sender=ticket.sender,
            face_value=ticket.face_value,
            win_prob=ticket.win_prob,
            sender_nonce=ticket.sender_nonce,
            recipient_rand_hash="0x" + ticket.recipient_rand_hash.hex(),
            creation_round=ticket.creation_round,
            creation_round_block_hash="0x" + ticket.creation_round_block_hash.hex(),
            sig="0x" + sig.hex(),
            recipient_rand=recipient_rand,
            params_expiration_block=expiration_block,
        )

    def ticket(self) -> Ticket:
        return Ticket(
            recipient=self.recipient,
            sender=self.sender,
            face_value=self.face_value,
            win_prob=self.win_prob,
            sender_nonce=self.sender_nonce,
            recipient_rand_hash=bytes.fromhex(self.recipient_rand_hash[2:]),
            creation_round=self.creation_round,
            creation_round_block_hash=bytes.fromhex(self.creation_round_block_hash[2:]),
        )

    @property
    def signature(self) -> bytes:
        return bytes.fromhex(self.sig[2:])


class RedemptionBatch(BaseModel):
    tickets: list[WinningTicket]


class TicketResult(BaseModel):
    """One ticket's fate in a redemption attempt: redeemed, refused for good, or still waiting
    for its params to expire."""

    ticket_hash: str
    state: Literal["redeemed", "failed", "waiting"]
    tx_hash: str | None = None
    reason: str | None = None
    amount: int = 0
