"""Discover: fetch a job token from every known orchestrator in parallel (reference 1.5)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from temporalio import activity

from tollway.byoc.header import encode_eth_address_header
from tollway.models import Attempt, Candidate, DiscoverInput, Discovery
from tollway.payments.wire import Price, TicketParams

MAX_TOKEN_BYTES = 64 * 1024


class DiscoveryActivities:
    def __init__(
        self,
        http: httpx.AsyncClient,
        private_key: bytes,
        address: str,
        orchestrators: list[str],
        timeout_seconds: float,
    ) -> None:
        self._http = http
        self._address_header = encode_eth_address_header(private_key, address)
        self._orchestrators = orchestrators
        self._timeout = timeout_seconds

    @activity.defn(name="discover_orchestrators")
    async def discover(self, request: DiscoverInput) -> Discovery:
        urls = [
            url
            for url in self._orchestrators
            if (not request.include or url in request.include) and url not in request.exclude
        ]
        answers = await asyncio.gather(*(self._token(url, request.capability) for url in urls))
        return Discovery(
            candidates=[a for a in answers if isinstance(a, Candidate)],
            failures=[a for a in answers if isinstance(a, Attempt)],
        )

    async def _token(self, url: str, capability: str) -> Candidate | Attempt:
        headers = {"Livepeer-Eth-Address": self._address_header, "Livepeer-Capability": capability}
        try:
            response = await self._http.get(
                f"{url}/process/token", headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            return _refused(url, f"unreachable: {exc!r}")
        if response.status_code != 200:
            return _refused(url, f"token refused: {response.text[:300]}", response.status_code)
        if len(response.content) > MAX_TOKEN_BYTES:
            return _refused(url, f"token larger than {MAX_TOKEN_BYTES} bytes")
        try:
            return _candidate(url, response.json())
        except Exception as exc:
            return _refused(url, f"malformed token: {exc!r}"[:300])


def _refused(url: str, reason: str, status_code: int | None = None) -> Attempt:
    activity.logger.info("ignoring orchestrator %s: %s", url, reason)
    return Attempt(orchestrator=url, stage="discover", reason=reason, status_code=status_code)


def _int64(value: Any, field: str) -> int:
    """An int64 as go-livepeer sends it; anything else (floats, huge numbers) is malformed."""
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise ValueError(f"{field} is not an int64: {value!r}"[:120])
    return int(value)


def _candidate(url: str, token: dict[str, Any]) -> Candidate:
    price_json = token.get("price") or {}
    price = Price(
        price_per_unit=_int64(price_json.get("pricePerUnit", 0), "pricePerUnit"),
        pixels_per_unit=_int64(price_json.get("pixelsPerUnit", 1), "pixelsPerUnit"),
    )
    if price.price_per_unit < 0 or price.pixels_per_unit <= 0:
        raise ValueError(f"absurd price {price_json!r}")
    raw_params = token.get("ticket_params")
    if raw_params is None and price.price_per_unit > 0:
        raise ValueError("a priced token must carry ticket_params")
    params = TicketParams.from_json(raw_params) if raw_params is not None else None
    return Candidate(
        url=url,
        address=params.recipient if params else "",
        price_per_unit=price.price_per_unit,
        pixels_per_unit=price.pixels_per_unit,
        capacity=_int64(token.get("available_capacity", 0), "available_capacity"),
        balance_wei=_int64(token.get("balance", 0), "balance"),
        ticket_params=params.to_json() if params else None,
    )
