"""Signed price quotes: an orchestrator's price for one capability, for one gateway, until a
time, signed with its ETH key (EIP-191), so a gateway can hold it to the price and tell a stale
or forged one. tollway's extension of the job token (go-livepeer issue #3930 asks for it);
gateways that do not know it ignore the field.
"""

from __future__ import annotations

from eth_utils.address import to_checksum_address
from pydantic import BaseModel, Field

from tollway.errors import BadSignature
from tollway.protocol.info import MAX_PRICE_WEI
from tollway.protocol.price import PriceUnit
from tollway.protocol.signing import parse_hex_signature, recover_message, sign_message

__all__ = ["Quote"]


class Quote(BaseModel):
    capability: str = Field(min_length=1, max_length=128)
    price_wei: int = Field(ge=0, le=MAX_PRICE_WEI)
    unit: PriceUnit
    gateway: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    orchestrator: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    expires_at: int = Field(ge=0, lt=2**63)
    """Unix seconds."""
    signature: str = Field(default="", max_length=200)

    def message(self) -> bytes:
        return (
            "tollway quote v1\n"
            f"capability:{self.capability}\n"
            f"price_wei:{self.price_wei}\n"
            f"unit:{self.unit}\n"
            f"gateway:{self.gateway.lower()}\n"
            f"orchestrator:{self.orchestrator.lower()}\n"
            f"expires_at:{self.expires_at}"
        ).encode()

    def signed_by(self, private_key: bytes) -> Quote:
        signature = sign_message(private_key, self.message())
        return self.model_copy(update={"signature": "0x" + signature.hex()})

    def problem(self, *, gateway: str, capability: str, price_wei: int, now: float) -> str | None:
        """Why a gateway must not rely on this quote, or None when it may."""
        if self.expires_at <= now:
            return f"quote expired {now - self.expires_at:.0f} s ago"
        if self.gateway.lower() != gateway.lower():
            return f"quote is for gateway {self.gateway}, not this one"
        if self.capability != capability:
            return f"quote is for capability {self.capability!r}, not {capability!r}"
        if self.price_wei != price_wei:
            return f"quote says {self.price_wei} wei but the token's price is {price_wei}"
        try:
            signer = recover_message(self.message(), parse_hex_signature(self.signature))
        except BadSignature as exc:
            return f"quote signature: {exc.message}"
        if to_checksum_address(signer) != to_checksum_address(self.orchestrator):
            return f"quote signed by {signer}, not by orchestrator {self.orchestrator}"
        return None
