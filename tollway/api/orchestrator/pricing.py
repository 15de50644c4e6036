"""The prices this orchestrator asks now, and the signed quotes that hold one for a while.

The PriceBook prices from settings; here it meets what changes under it (a capability's load,
a sender's redemption overhead) and the quotes gateways were given, so a job is billed the
lower of the price it was quoted and the current one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tollway.byoc.registry import CapabilityRegistry
from tollway.payments.ledger import Ledger
from tollway.payments.pricing import PriceBook
from tollway.payments.recipient import TicketRecipient
from tollway.protocol.capability import ExternalCapability
from tollway.protocol.quote import Quote

__all__ = ["Pricing"]


@dataclass
class Pricing:
    book: PriceBook
    registry: CapabilityRegistry
    recipient: TicketRecipient
    ledger: Ledger
    address: str
    private_key: bytes = field(repr=False)
    """Signs quotes."""

    async def price_wei(self, capability: ExternalCapability, sender: str | None) -> int:
        """What `sender` pays per unit now: the PriceBook's price (overrides, surge, gas)."""
        if sender is None or capability.price_wei(self.book.settings.usd_per_eth) == 0:
            return self.book.price_wei(capability, sender, self.registry.load(capability.name))
        overhead = await self.recipient.redemption_overhead(sender)
        return self.book.price_wei(
            capability, sender, self.registry.load(capability.name), overhead
        )

    async def charged_price_wei(self, capability: ExternalCapability, sender: str) -> int:
        """The price a job is billed at: the current one, or a lower one still quoted to it."""
        current = await self.price_wei(capability, sender)
        quoted = self.ledger.quoted_price(sender, capability.name, time.time())
        return current if quoted is None else min(current, quoted)

    def quote(self, capability: ExternalCapability, sender: str, price_wei: int) -> Quote:
        """Sign `price_wei` for `sender` and remember it, so its jobs are billed no more until
        the quote expires."""
        quote = Quote(
            capability=capability.name,
            price_wei=price_wei,
            unit=capability.unit,
            gateway=sender,
            orchestrator=self.address,
            expires_at=int(time.time()) + self.book.settings.quote_ttl_seconds,
        ).signed_by(self.private_key)
        self.ledger.save_quote(sender, capability.name, quote.price_wei, quote.expires_at)
        return quote
