"""What an orchestrator charges a gateway for a capability (reference 1.9, 3.3).

The capability's registered price (wei, ETH or USD at `usd_per_eth`, per second, request or
frame), or the operator's override for that gateway; times `surge_multiplier` while the
capability's load is at or above `surge_load_threshold`; times 1 + tx cost / face value, the
redemption-gas surcharge of go-livepeer's `-autoAdjustPrice`, when face values follow the gas
price. Floored to whole wei per unit, as go-livepeer does.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, Field

from tollway.byoc.registry import ExternalCapability, to_wei

UNITS_HEADER = "Tollway-Units"
"""Units billed for a job, on the orchestrator's answer; a worker reports frames on it too."""
UNIT_HEADER = "Tollway-Unit"
MAX_REPORTED_UNITS = 10**9


def billed_units(unit: str, seconds: float, reported: str | None) -> int:
    """Units a job is billed: whole seconds (at least one), one request, or the frames the
    worker reported (one when it reported nothing usable)."""
    if unit == "second":
        return max(1, math.ceil(seconds))
    if unit == "frame" and reported is not None and reported.isdigit():
        return min(int(reported), MAX_REPORTED_UNITS)
    return 1


class PriceOverride(BaseModel):
    """A price for one gateway (go-livepeer's `-pricePerGateway`), for one capability or "*"."""

    gateway: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    capability: str = "*"
    price_per_unit: int = Field(ge=0)
    price_scaling: int = Field(default=1, ge=1)
    currency: Literal["wei", "eth", "usd"] = "wei"


class PricingSettings(BaseModel):
    usd_per_eth: float | None = Field(default=None, gt=0)
    price_overrides: list[PriceOverride] = []
    surge_multiplier: float = Field(default=1.0, ge=1.0)
    surge_load_threshold: float = Field(default=0.8, gt=0, le=1)
    auto_adjust_price: bool = True
    quote_ttl_seconds: int = Field(default=60, ge=1)


class PriceBook:
    def __init__(self, settings: PricingSettings) -> None:
        self.settings = settings

    def base_wei(self, capability: ExternalCapability, gateway: str | None) -> Fraction:
        """The registered price, or this gateway's override, in wei per unit."""
        override = self._override(capability.name, gateway)
        if override is not None:
            amount = Fraction(override.price_per_unit, override.price_scaling)
            return to_wei(amount, override.currency, self.settings.usd_per_eth)
        return capability.price_wei(self.settings.usd_per_eth)

    def price_wei(
        self,
        capability: ExternalCapability,
        gateway: str | None,
        load: float,
        redemption_overhead: Fraction = Fraction(0),
    ) -> int:
        """Whole wei per unit: base, surge at high load, redemption-gas surcharge."""
        price = self.base_wei(capability, gateway)
        if load >= self.settings.surge_load_threshold:
            price *= Fraction(self.settings.surge_multiplier)
        if self.settings.auto_adjust_price:
            price *= 1 + redemption_overhead
        return math.floor(price)

    def _override(self, capability: str, gateway: str | None) -> PriceOverride | None:
        if gateway is None:
            return None
        mine = [o for o in self.settings.price_overrides if o.gateway.lower() == gateway.lower()]
        exact = [o for o in mine if o.capability == capability]
        anything = [o for o in mine if o.capability == "*"]
        chosen = exact or anything
        return chosen[0] if chosen else None
