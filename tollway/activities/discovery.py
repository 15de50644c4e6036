"""Discover: fetch a job token from every known orchestrator in parallel (reference 1.5)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from temporalio import activity

from tollway.byoc.header import encode_eth_address_header
from tollway.errors import TollwayError
from tollway.models import Attempt, Candidate, DiscoverInput, Discovery
from tollway.payments.wire import Price, TicketParams


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
            return Attempt(orchestrator=url, stage="discover", reason=f"unreachable: {exc!r}")
        if response.status_code != 200:
            return Attempt(
                orchestrator=url,
                stage="discover",
                reason=f"token refused: {response.text[:300]}",
                status_code=response.status_code,
            )
        try:
            return _candidate(url, response.json())
        except (ValueError, KeyError, TypeError, TollwayError) as exc:
            return Attempt(orchestrator=url, stage="discover", reason=f"malformed token: {exc}")


def _candidate(url: str, token: dict[str, Any]) -> Candidate:
    params = TicketParams.from_json(token["ticket_params"])
    price = Price.from_json(token.get("price") or {})
    if price.price_per_unit < 0 or price.pixels_per_unit <= 0:
        raise ValueError(f"absurd price {token.get('price')!r}")
    return Candidate(
        url=url,
        address=params.recipient,
        price_per_unit=price.price_per_unit,
        pixels_per_unit=price.pixels_per_unit,
        capacity=int(token.get("available_capacity", 0)),
        balance_wei=int(token.get("balance", 0)),
        ticket_params=token["ticket_params"],
    )
