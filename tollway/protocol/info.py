"""What an orchestrator says about itself on `GET /v1/info`, and what the gateway keeps of it.

The gateway reads these into its market view; anything that fails validation is ignored with a
logged reason and a metric, never trusted in part.
"""

from __future__ import annotations

from functools import cached_property
from importlib.metadata import PackageNotFoundError, version

from pydantic import BaseModel, ConfigDict, Field

from tollway.protocol.price import PriceUnit

__all__ = [
    "MAX_PRICE_WEI",
    "CapabilityOffer",
    "Gpu",
    "OrchestratorInfo",
    "tollway_version",
    "version_tuple",
]

MAX_PRICE_WEI = 10**30
"""Prices above this (10^12 ETH per unit) are absurd: refused, not ranked."""


def tollway_version() -> str:
    try:
        return version("tollway")
    except PackageNotFoundError:  # running from a tree that was never installed
        return "0.0.0"


class Gpu(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str = Field(max_length=128)
    vram_bytes: int = Field(ge=0)


class CapabilityOffer(BaseModel):
    """One capability as offered: its price per unit in wei and how much capacity is free."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=1024)
    price_wei: int = Field(ge=0, le=MAX_PRICE_WEI)
    unit: PriceUnit = "second"
    capacity: int = Field(ge=0, lt=2**31)
    available: int = Field(ge=0, lt=2**31)


class OrchestratorInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    service_addr: str = Field(max_length=512)
    version: str = Field(max_length=64)
    region: str = Field(default="", max_length=64)
    hardware: list[Gpu] = Field(default=[], max_length=64)
    capabilities: list[CapabilityOffer] = Field(max_length=1024)

    @cached_property
    def _offers(self) -> dict[str, CapabilityOffer]:
        return {c.name: c for c in self.capabilities}

    def offer(self, capability: str) -> CapabilityOffer | None:
        return self._offers.get(capability)


def version_tuple(text: str) -> tuple[int, ...]:
    """`1.2.3` -> (1, 2, 3); anything unparsable sorts first, as (-1,)."""
    try:
        return tuple(int(part) for part in text.lstrip("v").split("-")[0].split("."))
    except ValueError:
        return (-1,)
