"""The gateway's side of payments: how many tickets to send, and signing a batch of them.

Nonces are allocated per recipientRandHash from a durable counter, so a retried or resumed job
never reuses a nonce the orchestrator has already seen (go-livepeer: one PM session per params):
`NonceStore`, a file of one host's own, or the gateway database's counter that every host shares
(tollway.store.nonces).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tollway.errors import UnacceptableTicketParams
from tollway.protocol.payment import Payment, SignedTicket, TicketParams
from tollway.protocol.price import Price
from tollway.protocol.signing import sign_digest
from tollway.protocol.ticket import MAX_UINT256, ZERO_HASH

__all__ = [
    "MAX_TICKETS_PER_PAYMENT",
    "MIN_CREDIT_SECONDS",
    "Batch",
    "NonceStore",
    "Nonces",
    "SenderLimits",
    "TicketSender",
    "check_params",
    "credit_units",
    "tickets_needed",
]

MAX_TICKETS_PER_PAYMENT = 600
MIN_CREDIT_SECONDS = 60
"""go-livepeer orchestrators refuse a job unless a minute of compute is paid for."""


class Nonces(Protocol):
    async def allocate(self, recipient_rand_hash: bytes, count: int) -> range:
        """`count` nonces never handed out before for these params, from 1 for new params."""
        ...


class NonceStore:
    """Nonces in a SQLite file: for a sender on one host (several hosts share the database's)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level="IMMEDIATE", check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS pm_sessions ("
            "recipient_rand_hash BLOB PRIMARY KEY, last_nonce INTEGER NOT NULL)"
        )
        self._lock = threading.Lock()

    def allocate(self, recipient_rand_hash: bytes, count: int) -> range:
        """`count` fresh nonces for these params, starting at 1 for new params."""
        with self._lock, self._db:  # one transaction: commits, or rolls back on error
            row = self._db.execute(
                "SELECT last_nonce FROM pm_sessions WHERE recipient_rand_hash = ?",
                (recipient_rand_hash,),
            ).fetchone()
            first = (row[0] if row else 0) + 1
            self._db.execute(
                "INSERT INTO pm_sessions (recipient_rand_hash, last_nonce) VALUES (?, ?) "
                "ON CONFLICT (recipient_rand_hash) DO UPDATE SET last_nonce = excluded.last_nonce",
                (recipient_rand_hash, first + count - 1),
            )
        return range(first, first + count)


@dataclass(frozen=True)
class SenderLimits:
    """What the gateway will sign, whatever an orchestrator asks."""

    max_ticket_ev_wei: int = 3_000_000_000_000
    max_total_ev_wei: int = 20_000_000_000_000
    max_face_value_wei: int = 10**17


def check_params(params: TicketParams, count: int, limits: SenderLimits) -> None:
    """Refuse params that would let an orchestrator draw more than the gateway allows."""
    ev = params.face_value * params.win_prob // MAX_UINT256
    problems = []
    if params.face_value > limits.max_face_value_wei:
        problems.append(f"face value {params.face_value} > {limits.max_face_value_wei}")
    if ev > params.face_value:
        problems.append(f"ticket EV {ev} exceeds its face value {params.face_value}")
    if ev > limits.max_ticket_ev_wei:
        problems.append(f"ticket EV {ev} > {limits.max_ticket_ev_wei}")
    if ev * count > limits.max_total_ev_wei:
        problems.append(f"batch EV {ev * count} > {limits.max_total_ev_wei}")
    if params.creation_round_block_hash == ZERO_HASH:
        problems.append(
            f"round {params.creation_round} has no block hash (empty auxData: unredeemable)"
        )
    if problems:
        raise UnacceptableTicketParams("refusing ticket params: " + "; ".join(problems))


FRAME_CREDIT = 60
"""Frames of credit bought ahead for a frame-priced job (its count is known only after)."""


def credit_units(unit: str, timeout_seconds: int) -> int:
    """Units of credit a job needs: per second its timeout and at least the orchestrator's 60 s
    minimum; one request; FRAME_CREDIT frames."""
    if unit == "request":
        return 1
    if unit == "frame":
        return FRAME_CREDIT
    return max(timeout_seconds, MIN_CREDIT_SECONDS)


def tickets_needed(
    price: Price,
    timeout_seconds: int,
    balance_wei: int,
    params: TicketParams,
    unit: str = "second",
) -> int:
    """Tickets to buy so credit covers the job (and at least the orchestrator's minimum)."""
    if price.price_per_unit <= 0 or params.win_prob == 0 or params.face_value == 0:
        return 0
    units = credit_units(unit, timeout_seconds)
    required = price.cost(units)
    shortfall = required - balance_wei
    if shortfall <= 0:
        return 0
    ev = params.face_value * params.win_prob
    count = max(1, -(-shortfall * MAX_UINT256 // ev))
    if count > MAX_TICKETS_PER_PAYMENT:
        raise UnacceptableTicketParams(
            f"ticket EV too small: {MAX_TICKETS_PER_PAYMENT} tickets cannot buy "
            f"{units} {unit}(s) at {price.price_per_unit} wei each"
        )
    return count


@dataclass(frozen=True)
class Batch:
    payment: Payment
    ev_wei: int


class TicketSender:
    def __init__(self, private_key: bytes, address: str, nonces: NonceStore | None = None) -> None:
        self._key = private_key
        self.address = address
        self._nonces = nonces

    def batch(self, params: TicketParams, price: Price, count: int) -> Batch:
        """`count` tickets on nonces from this sender's own store."""
        if self._nonces is None:
            raise TypeError(
                "this TicketSender has no nonce store: sign() nonces allocated elsewhere"
            )
        return self.sign(params, price, self._nonces.allocate(params.recipient_rand_hash, count))

    def sign(self, params: TicketParams, price: Price, nonces: range) -> Batch:
        """A ticket on each of `nonces`, which nobody may have signed on these params before."""
        count = len(nonces)
        tickets: list[SignedTicket] = []
        for nonce in nonces:
            ticket = params.ticket(self.address, nonce)
            tickets.append(
                SignedTicket(sender_nonce=nonce, sig=sign_digest(self._key, ticket.hash()))
            )
        payment = Payment(sender=self.address, params=params, tickets=tickets, expected_price=price)
        ev = params.face_value * params.win_prob * count // MAX_UINT256
        return Batch(payment=payment, ev_wei=ev)
