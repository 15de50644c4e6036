"""The job token an orchestrator answers on `GET /process/token`: its price,
ticket params, free capacity and the sender's credit, plus tollway's signed quote.

The orchestrator builds it with `JobToken(...).to_json()`; the gateway reads it with
`JobToken.from_json`, which refuses anything malformed as a whole (ValueError), never in part.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from tollway.protocol.payment import TicketParams
from tollway.protocol.price import Price
from tollway.protocol.quote import Quote

__all__ = ["MAX_TOKEN_BYTES", "JobToken"]

MAX_TOKEN_BYTES = 64 * 1024


class JobToken(BaseModel):
    sender_address: dict[str, Any]
    """The gateway's `Livepeer-Eth-Address` proof, echoed back."""
    ticket_params: TicketParams | None
    """None only from a free orchestrator."""
    price: Price
    service_addr: str
    available_capacity: int
    balance: int = 0
    """The sender's credit with the orchestrator for this capability, in wei."""
    quote: Quote | None = None
    """tollway's signed price quote (go-livepeer gateways ignore the field)."""

    def to_json(self) -> dict[str, Any]:
        token: dict[str, Any] = {
            "sender_address": self.sender_address,
            "ticket_params": self.ticket_params.to_json() if self.ticket_params else None,
            "price": self.price.to_json(),
            "service_addr": self.service_addr,
            "available_capacity": self.available_capacity,
        }
        if self.quote is not None:
            token["quote"] = self.quote.model_dump()
        if self.balance:
            token["balance"] = self.balance
        return token

    @classmethod
    def from_json(cls, token: Any) -> JobToken:
        """A token as a gateway receives it; ValueError (or BadPayment for bad ticket params)
        names what is malformed."""
        if not isinstance(token, dict):
            raise ValueError("a job token is a JSON object")
        price_json = token.get("price") or {}
        price = Price(
            price_per_unit=_int64(price_json.get("pricePerUnit", 0), "pricePerUnit"),
            pixels_per_unit=_int64(price_json.get("pixelsPerUnit", 1), "pixelsPerUnit"),
        )
        if price.price_per_unit < 0 or price.pixels_per_unit <= 0:
            raise ValueError(f"absurd price {price_json!r}")
        raw_params = token.get("ticket_params")
        if raw_params is None and price.price_per_unit > 0:
            raise ValueError("a priced token must carry ticket_params")
        sender_address = token.get("sender_address") or {}
        return cls(
            sender_address=sender_address if isinstance(sender_address, dict) else {},
            ticket_params=TicketParams.from_json(raw_params) if raw_params is not None else None,
            price=price,
            service_addr=str(token.get("service_addr") or ""),
            available_capacity=_int64(token.get("available_capacity", 0), "available_capacity"),
            balance=_int64(token.get("balance", 0), "balance"),
            quote=Quote.model_validate(token["quote"]) if token.get("quote") else None,
        )


def _int64(value: Any, field: str) -> int:
    """An int64 as go-livepeer sends it; anything else (floats, huge numbers) is malformed."""
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise ValueError(f"{field} is not an int64: {value!r}"[:120])
    return int(value)
