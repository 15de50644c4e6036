"""Refreshing the network snapshot: every source's URLs, each orchestrator's `/v1/info`.

Run by the long-lived NetworkSnapshotWorkflow (and once inline if a job arrives before the
first refresh). An orchestrator that does not answer trips its circuit breaker and keeps the
info it last gave (it may be restarting: jobs it could serve wait for it rather than fail); one
without `/v1/info` (a go-livepeer node) stays known with no info, and its job tokens tell the
rest.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from pydantic import ValidationError

from tollway import metrics
from tollway.market.breaker import FailureKind
from tollway.market.sources import Listed, Source, collect, ignored
from tollway.market.store import KnownOrchestrator, MarketStore
from tollway.protocol.info import OrchestratorInfo

__all__ = ["NetworkRefresher"]

INFO_MAX_BYTES = 1024 * 1024
CONCURRENT_FETCHES = 32
UNREACHABLE = "unreachable"


class NetworkRefresher:
    def __init__(
        self,
        http: httpx.AsyncClient,
        store: MarketStore,
        sources: list[Source],
        timeout_seconds: float = 2.0,
    ) -> None:
        self._http = http
        self._store = store
        self._sources = sources
        self._timeout = timeout_seconds
        self._limit = asyncio.Semaphore(CONCURRENT_FETCHES)
        self._offered: set[str] = set()

    async def refresh(self) -> list[KnownOrchestrator]:
        begun = time.time()
        listed = await collect(self._sources)
        before = {o.url: o.info for o in (await self._store.view()).orchestrators}
        known = await asyncio.gather(
            *(self._known(url, entries, before.get(url)) for url, entries in listed.items())
        )
        await self._store.replace_snapshot(list(known), taken_at=begun)
        now = time.time()
        breakers = (await self._store.view()).breakers
        metrics.ORCHESTRATORS_KNOWN.set(len(known))
        metrics.ORCHESTRATORS_SUSPENDED.set(sum(b.is_open(now) for b in breakers.values()))
        usable: dict[str, int] = dict.fromkeys(self._offered, 0)
        for orchestrator in known:
            breaker = breakers.get(orchestrator.url)
            for offer in orchestrator.info.capabilities if orchestrator.info else []:
                open_now = breaker is not None and breaker.is_open(now)
                usable[offer.name] = usable.get(offer.name, 0) + (0 if open_now else 1)
        for capability, count in usable.items():
            metrics.CAPABILITY_ORCHESTRATORS.labels(capability=capability).set(count)
        self._offered |= set(usable)  # one no longer offered reads 0, not its last count
        return list(known)

    async def _known(
        self, url: str, entries: list[Listed], last_info: OrchestratorInfo | None
    ) -> KnownOrchestrator:
        stakes = [e.stake for e in entries if e.stake is not None]
        info, error = await self._info(url)
        if info is None and error.startswith(UNREACHABLE) and last_info is not None:
            info, error = last_info, f"{error} (its last info kept)"
        return KnownOrchestrator(
            url=url,
            sources=tuple(sorted({e.source for e in entries})),
            info=info,
            info_error=error,
            stake=max(stakes) if stakes else None,
            refreshed_at=time.time(),
        )

    async def _info(self, url: str) -> tuple[OrchestratorInfo | None, str]:
        async with self._limit:
            try:
                response = await self._http.get(f"{url}/v1/info", timeout=self._timeout)
            except httpx.HTTPError as exc:
                reason = f"{UNREACHABLE}: {exc!r}"
                await self._store.record_failure(url, None, FailureKind.UNREACHABLE, reason)
                metrics.DISCOVERY_ERRORS.labels("info", "unreachable").inc()
                return None, reason
        if response.status_code == 404:
            return None, "no /v1/info: not a tollway orchestrator"
        if response.status_code != 200:
            ignored("info", "status", f"{url}/v1/info answered {response.status_code}")
            return None, f"/v1/info answered {response.status_code}"
        if len(response.content) > INFO_MAX_BYTES:
            ignored("info", "too_large", f"{url}/v1/info: {len(response.content)} bytes")
            return None, "info too large"
        try:
            return OrchestratorInfo.model_validate_json(response.content), ""
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3]
            )
            ignored("info", "malformed", f"{url}/v1/info: {problems}")
            return None, f"malformed info: {problems}"[:300]
