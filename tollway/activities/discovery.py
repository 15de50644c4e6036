"""Discover: draw candidates from the market view, then fetch their job tokens in parallel.

The market (tollway.market) says who offers the capability and ranks them; the tokens give the
price actually charged, ticket params and free capacity, and are checked against the job's
price cap and their signed quote (tollway.market.selection) before anyone is paid. An
orchestrator whose token fetch fails counts against its circuit breaker.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING

import httpx
from pydantic import BaseModel
from temporalio import activity

from tollway import metrics
from tollway.config import SelectionPolicy
from tollway.market.breaker import FailureKind
from tollway.market.selection import (
    POLICIES,
    Candidate,
    Contender,
    SelectionRequest,
    candidate_from_token,
    filter_tokens,
    select,
    token_refusal,
)
from tollway.market.store import MarketStore, MarketView
from tollway.market.tokens import RecentTokens
from tollway.protocol.header import encode_eth_address_header
from tollway.protocol.token import MAX_TOKEN_BYTES, JobToken
from tollway.schemas.jobs import Attempt

if TYPE_CHECKING:  # the refresher reaches the chain (web3): the gateway API never loads it
    from tollway.market.snapshot import NetworkRefresher

__all__ = ["DiscoverInput", "Discovery", "DiscoveryActivities"]


class DiscoverInput(BaseModel):
    capability: str
    include: list[str] = []
    exclude: list[str] = []
    policy: SelectionPolicy = "balanced"
    price_caps: dict[str, int] = {}
    fresh_tokens: list[str] = []
    """Orchestrators whose kept token must not be reused (its params expired in flight)."""


class Discovery(BaseModel):
    candidates: list[Candidate]
    failures: list[Attempt]
    not_offering: int = 0
    """Known orchestrators that do not offer the capability."""


NOT_NOW_STATUSES = frozenset({502, 503, 504})
"""Token answers that mean "not now" (busy, restarting behind a proxy, the chain away)."""

STALE_ON_MISS_SECONDS = 1.0
"""When nobody in the snapshot can take a job, it is refreshed (capabilities register and
orchestrators recover between the periodic refreshes), but not more often than this."""


class DiscoveryActivities:
    def __init__(
        self,
        http: httpx.AsyncClient,
        private_key: bytes,
        address: str,
        store: MarketStore,
        refresher: NetworkRefresher,
        timeout_seconds: float,
        fanout: int = 4,
        min_version: str | None = None,
        require_quotes: bool = False,
        tokens: RecentTokens | None = None,
    ) -> None:
        self._http = http
        self._address = address
        self._address_header = encode_eth_address_header(private_key, address)
        self._require_quotes = require_quotes
        self._store = store
        self._refresher = refresher
        self._timeout = timeout_seconds
        self._fanout = fanout
        self._min_version = min_version
        self._rng = random.Random()
        self._miss_lock = asyncio.Lock()
        self._tokens = tokens or RecentTokens(0)

    @activity.defn(name="refresh_network")
    async def refresh_network(self) -> int:
        """Re-read every source and orchestrator info; returns how many orchestrators are known."""
        return len(await self._refresher.refresh())

    @activity.defn(name="discover_orchestrators")
    async def discover(self, request: DiscoverInput) -> Discovery:
        view = await self._store.view()
        if not view.snapshot_at:
            await self._refresher.refresh()  # a job before the first snapshot
            view = await self._store.view()
        wanted = SelectionRequest(
            capability=request.capability,
            policy=POLICIES[request.policy],
            price_caps=request.price_caps,
            include=frozenset(request.include),
            exclude=frozenset(request.exclude),
            min_version=self._min_version,
            fanout=self._fanout,
        )
        started = time.time()
        found = await self._draw(view, wanted, request)
        if not found.candidates and await self._refresh_after_miss(started, view.snapshot_at):
            # Nobody usable: the snapshot predates this job, and a capability may have
            # registered or an orchestrator recovered since. Draw once more from a fresh one;
            # the stale snapshot's own refusals are dropped, the tokens asked for are kept.
            again = await self._draw(await self._store.view(), wanted, request)
            asked = [a for a in found.failures if a.stage != "select"]
            found = again.model_copy(update={"failures": [*asked, *again.failures]})
        return found

    async def _draw(
        self, view: MarketView, wanted: SelectionRequest, request: DiscoverInput
    ) -> Discovery:
        selection = select(view, wanted, self._rng, time.time())
        fresh = frozenset(request.fresh_tokens)
        answers = await asyncio.gather(
            *(self._token(c, request.capability, c.url in fresh) for c in selection.ranked)
        )
        tokens = [a for a in answers if isinstance(a, Candidate)]
        candidates, refused = filter_tokens(tokens, request.price_caps)
        return Discovery(
            candidates=candidates,
            failures=[
                *selection.refused,
                *(a for a in answers if isinstance(a, Attempt)),
                *refused,
            ],
            not_offering=selection.not_offering,
        )

    async def _refresh_after_miss(self, started: float, drawn_from: float) -> bool:
        """True when a newer snapshot than the one drawn from (taken at `drawn_from`) is there
        to draw again from: another miss made one meanwhile, or this one refreshes a snapshot
        taken before the job began. At most one refresh a STALE_ON_MISS_SECONDS, shared by
        concurrent misses; False when the snapshot drawn from was fresh already."""
        async with self._miss_lock:
            snapshot_at = (await self._store.view()).snapshot_at
            if snapshot_at != drawn_from:
                return True
            if snapshot_at >= started:
                return False
            await asyncio.sleep(max(0.0, snapshot_at + STALE_ON_MISS_SECONDS - time.time()))
            if (await self._store.view()).snapshot_at == snapshot_at:
                await self._refresher.refresh()
            return True

    async def _token(
        self, contender: Contender, capability: str, fresh: bool = False
    ) -> Candidate | Attempt:
        kept = None if fresh else self._tokens.get(contender.url, capability)
        if kept is not None:
            return kept.model_copy(update={"score": contender.score})
        found = await self._fresh_token(contender, capability)
        if isinstance(found, Candidate):
            self._tokens.keep(found, capability)
        return found

    async def _fresh_token(self, contender: Contender, capability: str) -> Candidate | Attempt:
        url = contender.url
        headers = {"Livepeer-Eth-Address": self._address_header, "Livepeer-Capability": capability}
        # Only an orchestrator known to offer the capability is worth waiting for.
        offers = contender.price_wei is not None
        try:
            response = await self._http.get(
                f"{url}/process/token", headers=headers, timeout=self._timeout
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            return await self._refused(
                url,
                FailureKind.UNREACHABLE,
                "unreachable",
                f"unreachable: {exc!r}",
                transient=offers,
            )
        except httpx.HTTPError as exc:  # it took the connection, then failed or was too slow
            return await self._refused(
                url, FailureKind.FAILED, "no_answer", f"no token: {exc!r}", transient=offers
            )
        if response.status_code != 200:
            return await self._refused(
                url,
                FailureKind.FAILED,
                "status",
                f"token refused: {response.text[:300]}",
                response.status_code,
                transient=offers and response.status_code in NOT_NOW_STATUSES,
            )
        if len(response.content) > MAX_TOKEN_BYTES:
            return await self._refused(
                url, FailureKind.FAILED, "too_large", f"token larger than {MAX_TOKEN_BYTES} bytes"
            )
        try:
            token = JobToken.from_json(response.json())
        except Exception as exc:
            return await self._refused(
                url, FailureKind.FAILED, "malformed", f"malformed token: {exc!r}"
            )
        refusal = token_refusal(
            token,
            gateway=self._address,
            capability=capability,
            require_quotes=self._require_quotes,
            now=time.time(),
        )
        if refusal is not None:
            return await self._refused(url, FailureKind.FAILED, refusal.kind, refusal.reason)
        return candidate_from_token(url, token, contender.score)

    async def _refused(
        self,
        url: str,
        kind: FailureKind,
        metric_reason: str,
        reason: str,
        status_code: int | None = None,
        transient: bool = False,
    ) -> Attempt:
        reason = reason[:300]
        activity.logger.info("ignoring orchestrator %s: %s", url, reason)
        metrics.DISCOVERY_ERRORS.labels("token", metric_reason).inc()
        await self._store.record_failure(url, None, kind, reason)
        return Attempt(
            orchestrator=url,
            stage="discover",
            reason=reason,
            status_code=status_code,
            transient=transient,
        )
