"""Livepeer probabilistic-micropayment tickets: hash, auxData, winning rule, recipientRand.

Byte layouts follow go-livepeer's so that a tollway ticket redeems on
Livepeer's TicketBroker and on tollway's devnet contract alike.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from fractions import Fraction

from eth_utils.address import to_canonical_address, to_checksum_address
from eth_utils.crypto import keccak

__all__ = [
    "MAX_UINT256",
    "ZERO_HASH",
    "Ticket",
    "aux_data",
    "derive_recipient_rand",
    "is_winning",
    "minimal_bytes",
    "recipient_rand_hash",
    "ticket_ev",
    "u256",
    "win_prob_for",
]

MAX_UINT256 = 2**256 - 1
"""winProb is a fraction of this number (note: 2**256 - 1, not 2**256)."""

ZERO_HASH = b"\x00" * 32


def u256(value: int) -> bytes:
    return value.to_bytes(32, "big")


def minimal_bytes(value: int) -> bytes:
    """Minimal big-endian form used for uint256 values on the wire (zero is empty)."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def aux_data(creation_round: int, creation_round_block_hash: bytes) -> bytes:
    """64 bytes: the creation round then its block hash; empty when both are zero (legacy)."""
    if creation_round == 0 and creation_round_block_hash == ZERO_HASH:
        return b""
    return u256(creation_round) + creation_round_block_hash


@dataclass(frozen=True)
class Ticket:
    recipient: str
    sender: str
    face_value: int
    win_prob: int
    sender_nonce: int
    recipient_rand_hash: bytes
    creation_round: int
    creation_round_block_hash: bytes

    @property
    def aux_data(self) -> bytes:
        return aux_data(self.creation_round, self.creation_round_block_hash)

    def packed(self) -> bytes:
        """The 232-byte tightly packed encoding the contract hashes."""
        return (
            to_canonical_address(self.recipient)
            + to_canonical_address(self.sender)
            + u256(self.face_value)
            + u256(self.win_prob)
            + u256(self.sender_nonce)
            + self.recipient_rand_hash
            + self.aux_data
        )

    def hash(self) -> bytes:
        return keccak(self.packed())

    @property
    def expected_value(self) -> Fraction:
        return ticket_ev(self.face_value, self.win_prob)

    def as_contract_tuple(self) -> tuple[str, str, int, int, int, bytes, bytes]:
        return (
            to_checksum_address(self.recipient),
            to_checksum_address(self.sender),
            self.face_value,
            self.win_prob,
            self.sender_nonce,
            self.recipient_rand_hash,
            self.aux_data,
        )


def ticket_ev(face_value: int, win_prob: int) -> Fraction:
    return Fraction(face_value * win_prob, MAX_UINT256)


def win_prob_for(ev: int, face_value: int) -> int:
    """go-livepeer's winProb: EV x ceil((2^256-1)/faceValue), or certain when faceValue == EV."""
    if face_value <= 0 or ev <= 0:
        return 0
    if face_value == ev:
        return MAX_UINT256
    return min(MAX_UINT256, ev * -(-MAX_UINT256 // face_value))


def is_winning(signature: bytes, recipient_rand: int, win_prob: int) -> bool:
    return int.from_bytes(keccak(signature + u256(recipient_rand)), "big") < win_prob


def recipient_rand_hash(recipient_rand: int) -> bytes:
    return keccak(u256(recipient_rand))


def derive_recipient_rand(
    secret: bytes,
    *,
    seed: bytes,
    sender: str,
    face_value: int,
    win_prob: int,
    expiration_block: int,
    price_per_unit: int,
    pixels_per_unit: int,
    aux: bytes,
) -> int:
    """HMAC-SHA256 over the params, so the orchestrator can re-derive them statelessly.

    Each field is length-prefixed: with go-livepeer's plain concatenation of minimal bytes a
    sender could move bytes between neighbouring fields (a smaller faceValue with a larger
    winProb, a later expirationBlock) and still match the commitment. Only the keccak
    commitment is visible on the wire, so this stays compatible.
    """
    price = Fraction(price_per_unit, pixels_per_unit or 1)
    fields = (
        seed,
        to_canonical_address(sender),
        minimal_bytes(face_value),
        minimal_bytes(win_prob),
        minimal_bytes(expiration_block),
        minimal_bytes(price.numerator),
        minimal_bytes(price.denominator),
        aux,
    )
    message = b"".join(len(f).to_bytes(4, "big") + f for f in fields)
    return int.from_bytes(hmac.new(secret, message, hashlib.sha256).digest(), "big")
