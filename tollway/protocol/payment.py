"""Ticket params and payments as they travel: JSON in the job token, protobuf in `Livepeer-Payment`.

Byte fields are standard base64 in the token JSON; the header is go-livepeer's protobuf
`net.Payment`, uint256 values as minimal big-endian bytes.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from eth_utils.address import to_canonical_address, to_checksum_address
from google.protobuf.message import DecodeError
from pydantic import BaseModel

from tollway.errors import BadPayment
from tollway.protocol import lp_rpc_pb2 as pb
from tollway.protocol.price import Price
from tollway.protocol.ticket import Ticket, aux_data, minimal_bytes

__all__ = ["Payment", "SignedTicket", "TicketParams"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str, field: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadPayment(f"{field} is not standard base64", field=field) from exc


def _uint(data: bytes) -> int:
    return int.from_bytes(data, "big")


class TicketParams(BaseModel):
    """What the orchestrator hands out; the gateway echoes every field back unchanged."""

    recipient: str
    face_value: int
    win_prob: int
    recipient_rand_hash: bytes
    seed: bytes
    expiration_block: int
    creation_round: int
    creation_round_block_hash: bytes

    @property
    def aux_data(self) -> bytes:
        return aux_data(self.creation_round, self.creation_round_block_hash)

    def ticket(self, sender: str, nonce: int) -> Ticket:
        return Ticket(
            recipient=self.recipient,
            sender=sender,
            face_value=self.face_value,
            win_prob=self.win_prob,
            sender_nonce=nonce,
            recipient_rand_hash=self.recipient_rand_hash,
            creation_round=self.creation_round,
            creation_round_block_hash=self.creation_round_block_hash,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "recipient": _b64(to_canonical_address(self.recipient)),
            "face_value": _b64(minimal_bytes(self.face_value)),
            "win_prob": _b64(minimal_bytes(self.win_prob)),
            "recipient_rand_hash": _b64(self.recipient_rand_hash),
            "seed": _b64(self.seed),
            "expiration_block": _b64(minimal_bytes(self.expiration_block)),
            "expiration_params": {
                "creation_round": self.creation_round,
                "creation_round_block_hash": _b64(self.creation_round_block_hash),
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TicketParams:
        try:
            expiration = data.get("expiration_params") or {}
            return cls._checked(
                recipient=_unb64(data["recipient"], "recipient"),
                face_value=_unb64(data.get("face_value", ""), "face_value"),
                win_prob=_unb64(data.get("win_prob", ""), "win_prob"),
                recipient_rand_hash=_unb64(data["recipient_rand_hash"], "recipient_rand_hash"),
                seed=_unb64(data.get("seed", ""), "seed"),
                expiration_block=_unb64(data.get("expiration_block", ""), "expiration_block"),
                creation_round=int(expiration.get("creation_round", 0)),
                block_hash=_unb64(expiration.get("creation_round_block_hash", ""), "block_hash"),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BadPayment(f"malformed ticket_params: {exc!r}") from exc

    def to_proto(self) -> tuple[pb.TicketParams, pb.TicketExpirationParams]:
        expiration = pb.TicketExpirationParams(
            creation_round=self.creation_round,
            creation_round_block_hash=self.creation_round_block_hash,
        )
        params = pb.TicketParams(
            recipient=to_canonical_address(self.recipient),
            face_value=minimal_bytes(self.face_value),
            win_prob=minimal_bytes(self.win_prob),
            recipient_rand_hash=self.recipient_rand_hash,
            seed=self.seed,
            expiration_block=minimal_bytes(self.expiration_block),
            expiration_params=expiration,
        )
        return params, expiration

    @classmethod
    def _checked(
        cls,
        *,
        recipient: bytes,
        face_value: bytes,
        win_prob: bytes,
        recipient_rand_hash: bytes,
        seed: bytes,
        expiration_block: bytes,
        creation_round: int,
        block_hash: bytes,
    ) -> TicketParams:
        if len(recipient) != 20:
            raise BadPayment("ticket recipient must be 20 bytes", field="recipient")
        if len(recipient_rand_hash) != 32:
            raise BadPayment("recipient_rand_hash must be 32 bytes", field="recipient_rand_hash")
        if len(block_hash) not in (0, 32) or len(face_value) > 32 or len(win_prob) > 32:
            raise BadPayment("a uint256 or hash field is longer than 32 bytes")
        if creation_round < 0:
            raise BadPayment("creation_round is negative", field="creation_round")
        return cls(
            recipient=to_checksum_address(recipient),
            face_value=_uint(face_value),
            win_prob=_uint(win_prob),
            recipient_rand_hash=recipient_rand_hash,
            seed=seed,
            expiration_block=_uint(expiration_block),
            creation_round=creation_round,
            creation_round_block_hash=block_hash.rjust(32, b"\x00"),
        )


class SignedTicket(BaseModel):
    sender_nonce: int
    sig: bytes


class Payment(BaseModel):
    """A decoded `Livepeer-Payment`: one set of params and a batch of signed nonces."""

    sender: str
    params: TicketParams
    tickets: list[SignedTicket]
    expected_price: Price

    def encode(self) -> str:
        params, expiration = self.params.to_proto()
        message = pb.Payment(
            ticket_params=params,
            sender=to_canonical_address(self.sender),
            expiration_params=expiration,
            ticket_sender_params=[
                pb.TicketSenderParams(sender_nonce=t.sender_nonce, sig=t.sig) for t in self.tickets
            ],
            expected_price=pb.PriceInfo(
                pricePerUnit=self.expected_price.price_per_unit,
                pixelsPerUnit=self.expected_price.pixels_per_unit,
            ),
        )
        return _b64(message.SerializeToString())

    @classmethod
    def decode(cls, header: str) -> Payment:
        raw = _unb64(header.strip(), "Livepeer-Payment")
        message = pb.Payment()
        try:
            message.ParseFromString(raw)
        except DecodeError as exc:
            raise BadPayment("Livepeer-Payment is not a protobuf Payment", field="payment") from exc
        if len(message.sender) != 20:
            raise BadPayment("payment sender must be 20 bytes", field="sender")
        if not message.HasField("ticket_params"):
            raise BadPayment("payment has no ticket_params", field="ticket_params")
        p = message.ticket_params
        expiration = (
            message.expiration_params
            if message.HasField("expiration_params")
            else p.expiration_params
        )
        params = TicketParams._checked(
            recipient=p.recipient,
            face_value=p.face_value,
            win_prob=p.win_prob,
            recipient_rand_hash=p.recipient_rand_hash,
            seed=p.seed,
            expiration_block=p.expiration_block,
            creation_round=expiration.creation_round,
            block_hash=expiration.creation_round_block_hash,
        )
        price = message.expected_price
        if price.pricePerUnit < 0 or price.pixelsPerUnit < 0:
            raise BadPayment("expected_price is negative", field="expected_price")
        return cls(
            sender=to_checksum_address(message.sender),
            params=params,
            tickets=[
                SignedTicket(sender_nonce=t.sender_nonce, sig=t.sig)
                for t in message.ticket_sender_params
            ],
            expected_price=Price(
                price_per_unit=message.expected_price.pricePerUnit,
                pixels_per_unit=message.expected_price.pixelsPerUnit or 1,
            ),
        )
