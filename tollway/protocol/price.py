"""Prices and billing as both sides of a job compute them.

A price is wei per unit (`pricePerUnit / pixelsPerUnit`, camelCase on the wire as go-livepeer's
PriceInfo). BYOC bills whole seconds, at least one (go-livepeer's `ceil(seconds) x price`);
tollway adds request and frame units, a worker reporting frames in `Tollway-Units`. The gateway
and the orchestrator compute a job's cost with the same `Price.cost(billed_units(...))`.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tollway.errors import BadRequest

__all__ = [
    "MAX_REPORTED_UNITS",
    "UNITS_HEADER",
    "UNIT_HEADER",
    "WEI_PER_ETH",
    "Price",
    "PriceUnit",
    "billed_units",
    "to_wei",
]

PriceUnit = Literal["second", "request", "frame"]
UNITS_HEADER = "Tollway-Units"
"""Units billed for a job, on the orchestrator's answer; a worker reports frames on it too."""
UNIT_HEADER = "Tollway-Unit"
MAX_REPORTED_UNITS = 10**9
WEI_PER_ETH = 10**18


def billed_units(unit: str, seconds: float, reported: str | None) -> int:
    """Units a job is billed: whole seconds (at least one), one request, or the frames the
    worker reported (one when it reported nothing usable)."""
    if unit == "second":
        return max(1, math.ceil(seconds))
    if unit == "frame" and reported is not None and reported.isdigit():
        return min(int(reported), MAX_REPORTED_UNITS)
    return 1


class Price(BaseModel):
    """Wei per unit of compute (one second for BYOC); camelCase on the wire like go-livepeer."""

    model_config = ConfigDict(populate_by_name=True)

    price_per_unit: int
    pixels_per_unit: int = 1

    def to_json(self) -> dict[str, int]:
        return {"pricePerUnit": self.price_per_unit, "pixelsPerUnit": self.pixels_per_unit}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Price:
        return cls(
            price_per_unit=int(data.get("pricePerUnit", 0)),
            pixels_per_unit=int(data.get("pixelsPerUnit", 1) or 1),
        )

    def cost(self, units: int) -> int:
        return self.price_per_unit * units // self.pixels_per_unit


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
