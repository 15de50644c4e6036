"""What an orchestrator charges a gateway for a capability.

The capability's registered price (wei, ETH or USD at `usd_per_eth`, per second, request or
frame), or the operator's override for that gateway; times `surge_multiplier` while the
capability's load is at or above `surge_load_threshold`; times 1 + tx cost / face value, the
redemption-gas surcharge of go-livepeer's `-autoAdjustPrice`, when face values follow the gas
price. Floored to whole wei per unit, as go-livepeer does.
"""

from __future__ import annotations

import math
from fractions import Fraction

from tollway.config import PriceOverride, PricingSettings
from tollway.protocol.capability import ExternalCapability
from tollway.protocol.price import to_wei

__all__ = ["PriceBook"]


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
