"""A BYOC capability's registration, as go-livepeer's ExternalCapability JSON,
with tollway's extensions: price unit, replica, protocol and cold replicas."""

from __future__ import annotations

from fractions import Fraction
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator

from tollway.protocol.header import CAPABILITY_NAME
from tollway.protocol.price import PriceUnit, to_wei

__all__ = ["ExternalCapability"]


class ExternalCapability(BaseModel):
    name: str = Field(pattern=CAPABILITY_NAME)
    description: str = ""
    url: str = ""
    capacity: int = Field(default=1, ge=1)
    price_per_unit: int = Field(default=0, ge=0)
    price_scaling: int = Field(default=1, ge=0)
    currency: Literal["", "wei", "WEI", "eth", "ETH", "usd", "USD"] = ""
    unit: PriceUnit = "second"
    """What one price_per_unit buys (tollway's extension; go-livepeer bills seconds)."""
    token: str = ""
    replica: str = Field(default="", max_length=128, pattern=r"^[^\x00-\x1f]*$")
    """Which replica of `name` this is (tollway's extension); "" for a lone registration."""
    protocol: Literal["http", "triton"] = "http"
    """How the orchestrator calls `url` (tollway's extension): "http" forwards the request as
    go-livepeer does; "triton" runs the body through the Triton model named `name`."""
    trickle_url: str = ""
    """Where this replica reaches the orchestrator's trickle server (tollway's extension): its
    GPU worker's bridge; "" means the orchestrator's own address."""
    cold: bool = False
    """Declared but not running (a cold-swap replica, tollway's extension): it has no slots,
    and a request that finds no free slot wakes it."""

    @model_validator(mode="after")
    def _url_unless_cold(self) -> ExternalCapability:
        if not self.cold and not self.url:
            raise ValueError("url is required (only a cold replica registers without one)")
        return self

    @field_validator("url", "trickle_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if url:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("url must be an http or https URL with a host")
        return url

    @field_validator("price_scaling")
    @classmethod
    def _zero_means_one(cls, value: int) -> int:
        return value or 1

    def price_wei(self, usd_per_eth: float | None = None) -> Fraction:
        """Wei per unit, exactly; a USD price needs the operator's ETH/USD rate."""
        return to_wei(Fraction(self.price_per_unit, self.price_scaling), self.currency, usd_per_eth)

    @property
    def price_wei_per_second(self) -> int:
        """Integer wei per unit, floored as go-livepeer does (USD prices need a PriceBook)."""
        return int(self.price_wei())
