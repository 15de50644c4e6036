"""Capabilities registered on an orchestrator, with capacity enforced at request time.

Registration JSON follows go-livepeer's ExternalCapability (reference livepeer-byoc.md 1.2).
Unlike go-livepeer, a full capability refuses work (503), every slot is released on every
path, errors and timeouts included, and registrations survive an orchestrator restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from tollway.errors import BadRequest, CapacityExhausted, UnknownCapability
from tollway.market.info import PriceUnit
from tollway.payments.ledger import Ledger

WEI_PER_ETH = 10**18


def to_wei(amount: Fraction, currency: str, usd_per_eth: float | None) -> Fraction:
    """`amount` in `currency` ("" and "wei" mean wei; "eth"; "usd" at `usd_per_eth`) as wei."""
    currency = currency.lower()
    if currency == "eth":
        return amount * WEI_PER_ETH
    if currency == "usd":
        if not usd_per_eth:
            raise BadRequest(
                "a price in currency USD needs the orchestrator's usd_per_eth rate",
                field="currency",
            )
        return amount * WEI_PER_ETH / Fraction(usd_per_eth)
    return amount


class ExternalCapability(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    description: str = ""
    url: str = Field(min_length=1)
    capacity: int = Field(default=1, ge=1)
    price_per_unit: int = Field(default=0, ge=0)
    price_scaling: int = Field(default=1, ge=0)
    currency: Literal["", "wei", "WEI", "eth", "ETH", "usd", "USD"] = ""
    unit: PriceUnit = "second"
    """What one price_per_unit buys (tollway's extension; go-livepeer bills seconds)."""
    token: str = ""

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


class CapabilityRegistry:
    """Registrations, kept in `ledger` when one is given (in memory only otherwise)."""

    def __init__(self, ledger: Ledger | None = None) -> None:
        self._ledger = ledger
        self._capabilities: dict[str, ExternalCapability] = {}
        self._in_flight: dict[str, int] = {}
        self._waiting: dict[str, int] = {}
        self._freed: dict[str, asyncio.Event] = {}
        for body in ledger.capabilities() if ledger else []:
            capability = ExternalCapability.model_validate_json(body)
            self._capabilities[capability.name] = capability

    def register(self, capability: ExternalCapability) -> None:
        if self._ledger:
            self._ledger.save_capability(capability.name, capability.model_dump_json())
        self._capabilities[capability.name] = capability
        self._in_flight.setdefault(capability.name, 0)

    def unregister(self, name: str) -> bool:
        if self._ledger:
            self._ledger.save_capability(name, None)
        removed = self._capabilities.pop(name, None) is not None
        freed = self._freed.get(name)
        if freed is not None:
            freed.set()  # its waiters learn it is gone
        return removed

    def get(self, name: str) -> ExternalCapability:
        capability = self._capabilities.get(name)
        if capability is None:
            raise UnknownCapability(f"capability {name!r} is not registered here", capability=name)
        return capability

    def load(self, name: str) -> float:
        """Share of the capability's capacity in use, 0 to 1."""
        capability = self._capabilities.get(name)
        if capability is None:
            return 0.0
        return min(1.0, self._in_flight.get(name, 0) / capability.capacity)

    def available(self, name: str) -> int:
        capability = self._capabilities.get(name)
        if capability is None:
            return 0
        return max(0, capability.capacity - self._in_flight.get(name, 0))

    def names(self) -> list[str]:
        return sorted(self._capabilities)

    @contextmanager
    def slot(self, name: str) -> Iterator[ExternalCapability]:
        capability = self.get(name)
        if self.available(name) <= 0:
            raise CapacityExhausted(
                f"capability {name!r} is at capacity ({capability.capacity})", capability=name
            )
        self._in_flight[name] = self._in_flight.get(name, 0) + 1
        try:
            yield capability
        finally:
            self._in_flight[name] -= 1
            freed = self._freed.get(name)
            if freed is not None:
                freed.set()

    @asynccontextmanager
    async def wait_slot(
        self, name: str, wait_seconds: float, max_waiting: int
    ) -> AsyncIterator[ExternalCapability]:
        """A slot as `slot` gives one, but when all are busy wait up to `wait_seconds` for one
        to free, in a queue of at most `max_waiting`; CapacityExhausted (503) after that."""
        capability = self.get(name)
        if self.available(name) <= 0:
            waiting = self._waiting.get(name, 0)
            if waiting >= max_waiting:
                raise CapacityExhausted(
                    f"capability {name!r} is at capacity ({capability.capacity}) and "
                    f"{waiting} requests already wait for it",
                    capability=name,
                )
            self._waiting[name] = waiting + 1
            try:
                await asyncio.wait_for(self._until_free(name), wait_seconds)
            except TimeoutError as exc:
                raise CapacityExhausted(
                    f"capability {name!r} is at capacity ({capability.capacity}): no slot "
                    f"freed within {wait_seconds:g} s",
                    capability=name,
                ) from exc
            finally:
                self._waiting[name] -= 1
        with self.slot(name) as taken:
            yield taken

    async def _until_free(self, name: str) -> None:
        freed = self._freed.setdefault(name, asyncio.Event())
        while self.available(name) <= 0:
            self.get(name)  # unregistered while waiting: UnknownCapability
            freed.clear()
            await freed.wait()
