"""Where the gateway hears of orchestrators: a static list, a webhook, the chain's active set.

Each source returns the URLs it knows now. A source that fails is logged and counted
(`tollway_discovery_errors_total`), and the webhook then serves its last good list.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from tollway import metrics
from tollway.chain.client import ChainClient
from tollway.errors import ChainError

__all__ = [
    "ChainSource",
    "Listed",
    "Source",
    "StaticSource",
    "WebhookSource",
    "collect",
    "ignored",
    "valid_url",
]

log = logging.getLogger("tollway.market")

WEBHOOK_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Listed:
    url: str
    source: str
    stake: int | None = None


class Source(Protocol):
    name: str

    async def list(self) -> list[Listed]: ...


def ignored(source: str, reason: str, detail: str) -> None:
    """Log and count one piece of discovery input that was thrown away."""
    log.warning("discovery: ignoring %s input (%s): %s", source, reason, detail[:300])
    metrics.DISCOVERY_ERRORS.labels(source, reason).inc()


def valid_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and len(url) <= 512


class StaticSource:
    name = "static"

    def __init__(self, urls: list[str]) -> None:
        self._urls = [u.rstrip("/") for u in urls]

    async def list(self) -> list[Listed]:
        return [Listed(url, self.name) for url in self._urls]


class _WebhookEntry(BaseModel):
    address: str = Field(max_length=512)
    score: float | None = None


_WEBHOOK_ANSWER: TypeAdapter[list[_WebhookEntry]] = TypeAdapter(list[_WebhookEntry])


class WebhookSource:
    """go-livepeer's `-orchWebhookUrl`: GET answering `[{"address": url, "score": n}]`, cached
    for `ttl_seconds`; on any error the last good list is served."""

    name = "webhook"

    def __init__(
        self, http: httpx.AsyncClient, url: str, ttl_seconds: float = 60.0, timeout: float = 3.0
    ) -> None:
        self._http = http
        self._url = url
        self._ttl = ttl_seconds
        self._timeout = timeout
        self._cached: list[Listed] = []
        self._fetched_at = float("-inf")

    async def list(self) -> list[Listed]:
        if time.monotonic() - self._fetched_at < self._ttl:
            return self._cached
        self._fetched_at = time.monotonic()
        try:
            response = await self._http.get(self._url, timeout=self._timeout)
        except httpx.HTTPError as exc:
            ignored(self.name, "unreachable", f"{self._url}: {exc!r}")
            return self._cached
        if response.status_code != 200:
            ignored(self.name, "status", f"{self._url} answered {response.status_code}")
            return self._cached
        if len(response.content) > WEBHOOK_MAX_BYTES:
            ignored(self.name, "too_large", f"{self._url}: {len(response.content)} bytes")
            return self._cached
        try:
            entries = _WEBHOOK_ANSWER.validate_json(response.content)
        except ValidationError as exc:
            ignored(self.name, "malformed", f"{self._url}: {exc.errors()[:3]}")
            return self._cached
        listed = []
        for entry in entries:
            if valid_url(entry.address):
                listed.append(Listed(entry.address.rstrip("/"), self.name))
            else:
                ignored(self.name, "bad_url", repr(entry.address))
        self._cached = listed
        return listed


class ChainSource:
    """The active transcoders' service URIs from the ServiceRegistry, with their stake."""

    name = "chain"

    def __init__(self, chain: ChainClient) -> None:
        self._chain = chain

    async def list(self) -> list[Listed]:
        try:
            pool = await self._chain.bonding.transcoder_pool()
            found = await asyncio.gather(*(self._member(address) for address in pool))
        except ChainError as exc:
            ignored(self.name, "chain_error", str(exc))
            return []
        return [listed for listed in found if listed is not None]

    async def _member(self, address: str) -> Listed | None:
        transcoder, uri = await asyncio.gather(
            self._chain.bonding.transcoder(address), self._chain.registry.service_uri(address)
        )
        if not transcoder.active:
            return None
        if not valid_url(uri):
            ignored(self.name, "bad_url", f"{address} registered service URI {uri!r}")
            return None
        return Listed(uri.rstrip("/"), self.name, stake=transcoder.total_stake)


async def collect(sources: list[Source]) -> dict[str, list[Listed]]:
    """Every URL any source lists, with what each source said of it."""
    merged: dict[str, list[Listed]] = {}
    for listed in await asyncio.gather(*(source.list() for source in sources)):
        for entry in listed:
            merged.setdefault(entry.url, []).append(entry)
    return merged
