"""Choosing orchestrators for a job: filter by capacity and price cap, cheapest first.

Pure functions, so the job workflow can call them deterministically. A later issue replaces
the ordering with a scored, weighted-random policy.
"""

from __future__ import annotations

import json
from fractions import Fraction

from tollway.models import Attempt, Candidate


def orchestrator_filter(parameters: str) -> tuple[list[str], list[str]]:
    """(include, exclude) orchestrator URLs from the job header's `parameters` JSON string."""
    parsed = json.loads(parameters or "{}") or {}
    orchestrators = parsed.get("orchestrators") or {} if isinstance(parsed, dict) else {}
    return list(orchestrators.get("include") or []), list(orchestrators.get("exclude") or [])


def price_per_second(candidate: Candidate) -> Fraction:
    return Fraction(candidate.price_per_unit, candidate.pixels_per_unit or 1)


def rank_candidates(
    candidates: list[Candidate], max_price_wei_per_second: int | None
) -> tuple[list[Candidate], list[Attempt]]:
    chosen: list[Candidate] = []
    refused: list[Attempt] = []
    for candidate in candidates:
        if candidate.capacity <= 0:
            refused.append(
                Attempt(
                    orchestrator=candidate.url,
                    stage="select",
                    reason="capability not offered or at capacity (available_capacity 0)",
                )
            )
        elif max_price_wei_per_second is not None and (
            price_per_second(candidate) > max_price_wei_per_second
        ):
            refused.append(
                Attempt(
                    orchestrator=candidate.url,
                    stage="select",
                    reason=f"price {candidate.price_per_unit} wei/s above the job's cap "
                    f"{max_price_wei_per_second}",
                )
            )
        else:
            chosen.append(candidate)
    chosen.sort(key=lambda c: (price_per_second(c), c.url))
    return chosen, refused
