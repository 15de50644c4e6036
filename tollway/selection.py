"""Choosing orchestrators for a job: filter by capacity and price cap, cheapest first.

Pure functions, so the job workflow can call them deterministically. A later issue replaces
the ordering with a scored, weighted-random policy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from fractions import Fraction

from tollway.errors import BadJobHeader
from tollway.models import Attempt, Candidate


def orchestrator_filter(parameters: str) -> tuple[list[str], list[str]]:
    """(include, exclude) orchestrator URLs from the job header's `parameters` JSON string,
    shaped as go-livepeer's JobParameters; any other shape is a BadJobHeader."""
    try:
        parsed = json.loads(parameters or "{}") or {}
    except ValueError as exc:
        raise BadJobHeader("parameters is not valid JSON", field="parameters") from exc
    if not isinstance(parsed, dict):
        raise BadJobHeader("parameters must hold a JSON object", field="parameters")
    orchestrators = parsed.get("orchestrators") or {}
    if not isinstance(orchestrators, dict):
        raise BadJobHeader("parameters.orchestrators must be an object", field="parameters")
    lists = []
    for key in ("include", "exclude"):
        urls = orchestrators.get(key) or []
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise BadJobHeader(
                f"parameters.orchestrators.{key} must be a list of URLs", field="parameters"
            )
        lists.append(urls)
    return lists[0], lists[1]


def price_per_unit(candidate: Candidate) -> Fraction:
    return Fraction(candidate.price_per_unit, candidate.pixels_per_unit or 1)


def _wei(value: Fraction) -> str:
    """Exact for whole wei, else two decimals, with integer arithmetic only (no float overflow)."""
    if value.denominator == 1:
        return str(value.numerator)
    hundredths = value.numerator * 100 // value.denominator
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def filter_tokens(
    candidates: list[Candidate], price_caps: Mapping[str, int]
) -> tuple[list[Candidate], list[Attempt]]:
    """The candidates with a price within the cap for their unit and free capacity, in the
    order given, then those at capacity that queue (tried last)."""
    chosen: list[Candidate] = []
    refused: list[Attempt] = []
    for candidate in candidates:
        cap = price_caps.get(candidate.unit)
        price = price_per_unit(candidate)
        if candidate.capacity <= 0 and not candidate.queues:
            reason = "capability not offered or at capacity (available_capacity 0)"
        elif cap is not None and price > cap:
            unit = "s" if candidate.unit == "second" else candidate.unit
            reason = f"price {_wei(price)} wei/{unit} above the job's cap {cap}"
        else:
            chosen.append(candidate)
            continue
        refused.append(Attempt(orchestrator=candidate.url, stage="select", reason=reason))
    chosen.sort(key=lambda c: c.capacity <= 0)  # stable: the given order within each group
    return chosen, refused
