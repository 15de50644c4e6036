"""The gateway's market memory, in the gateway's database: the latest network snapshot,
observed performance per (orchestrator, capability) and a circuit breaker per orchestrator.

Every gateway API and worker process, on every host, shares one copy, so an orchestrator that
fails one host's jobs is suspended for all of them and a restart forgets nothing. Selection
reads the market for every job, so each process keeps it in memory, at most `VIEW_SECONDS` old
(its own writes show at once), and then asks the database for one row of counters only
(`market_versions`): `version` grows with every market write, so the tables are re-read only
when some process wrote since, and `snapshot_generation` with every snapshot, so the snapshot's
large infos only when the snapshot changed. A write reads and
changes its rows in one transaction that begins by updating that row: its lock (PostgreSQL) or
the database's write lock (SQLite) orders every writer everywhere, so that no concurrent
failure is lost and a breaker's state moves one step at a time.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Row, Table, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from tollway.config import GatewaySettings
from tollway.market.breaker import Breaker, BreakerSettings, FailureKind
from tollway.protocol.info import OrchestratorInfo
from tollway.store.database import Database
from tollway.store.schema import (
    market_breakers,
    market_orchestrators,
    market_performance,
    market_versions,
)

__all__ = [
    "SUCCESS_PRIOR",
    "KnownOrchestrator",
    "MarketStore",
    "MarketView",
    "Performance",
    "open_market_store",
]

VIEW_SECONDS = 0.5
"""How long a process answers from its view without asking whether another process wrote: how
late a failure seen by another process (or host) reaches this one's selection."""
LATENCY_ALPHA = 0.3
SUCCESS_ALPHA = 0.2
SUCCESS_PRIOR = 0.9
"""What a newcomer's success rate starts at: trusted, but below a proven orchestrator."""


@dataclass(frozen=True)
class KnownOrchestrator:
    url: str
    sources: tuple[str, ...]
    info: OrchestratorInfo | None
    info_error: str = ""
    """Why `info` is missing: not a tollway orchestrator, unreachable, malformed."""
    stake: int | None = None
    """Total stake read from the chain; None when no chain source saw this orchestrator."""
    refreshed_at: float = 0.0


@dataclass(frozen=True)
class Performance:
    latency_ms: float | None = None
    success: float = SUCCESS_PRIOR
    jobs: int = 0
    failures: int = 0

    def after_success(self, latency_ms: float) -> Performance:
        latency = (
            latency_ms
            if self.latency_ms is None
            else self.latency_ms + LATENCY_ALPHA * (latency_ms - self.latency_ms)
        )
        success = self.success + SUCCESS_ALPHA * (1.0 - self.success)
        return Performance(latency, success, self.jobs + 1, self.failures)

    def after_failure(self) -> Performance:
        success = self.success - SUCCESS_ALPHA * self.success
        return Performance(self.latency_ms, success, self.jobs + 1, self.failures + 1)


@dataclass
class MarketView:
    orchestrators: list[KnownOrchestrator] = field(default_factory=list)
    performance: dict[tuple[str, str], Performance] = field(default_factory=dict)
    breakers: dict[str, Breaker] = field(default_factory=dict)
    snapshot_at: float = 0.0


class MarketStore:
    """One process's door to the shared market: writes go straight to the database, reads
    come from a view cached until the counters say another write happened."""

    def __init__(self, database: Database, breaker_settings: BreakerSettings | None = None) -> None:
        self._database = database
        self.breaker_settings = breaker_settings or BreakerSettings()
        self._reading = asyncio.Lock()
        self._view = MarketView()
        self._version: int | None = None
        self._snapshot_generation: int | None = None
        self._checked_at = -math.inf
        """When the counters were last read (monotonic); -inf after a write of this process."""

    # ---- reading -------------------------------------------------------------------------

    async def view(self) -> MarketView:
        """The current market: no query within `VIEW_SECONDS` of the last look, else one small
        one when nothing changed since."""
        async with self._reading:
            if time.monotonic() - self._checked_at < VIEW_SECONDS:
                return self._view
            async with self._database.engine.connect() as connection:
                # The counters are read before the rows: a view is never older than its
                # counters say (at worst newer, and then the next look reads the rows again).
                checked_at = time.monotonic()
                counters = (await connection.execute(select(market_versions))).one()
                if counters.version != self._version:
                    self._view = await self._load(
                        connection, counters.snapshot_generation, counters.snapshot_at
                    )
                    self._version = counters.version
                    self._snapshot_generation = counters.snapshot_generation
                self._checked_at = checked_at
            return self._view

    async def _load(
        self, connection: AsyncConnection, generation: int, snapshot_at: float
    ) -> MarketView:
        orchestrators = self._view.orchestrators
        if generation != self._snapshot_generation:
            rows = await connection.execute(
                select(market_orchestrators).order_by(market_orchestrators.c.url)
            )
            orchestrators = [_orchestrator(row) for row in rows]
        performance = {
            (row.url, row.capability): _performance(row)
            for row in await connection.execute(select(market_performance))
        }
        breakers = {
            row.url: _breaker(row) for row in await connection.execute(select(market_breakers))
        }
        return MarketView(orchestrators, performance, breakers, snapshot_at)

    # ---- writing -------------------------------------------------------------------------

    async def replace_snapshot(
        self, orchestrators: list[KnownOrchestrator], taken_at: float | None = None
    ) -> None:
        """The network as the latest refresh saw it, that refresh having begun at `taken_at`
        (what it says may be that old); performance and breakers are kept. A refresh that
        began before the snapshot already stored (overlapping refreshes, on any host) changes
        nothing."""
        now = time.time() if taken_at is None else taken_at
        async with self._database.engine.begin() as connection:
            newer = await connection.execute(
                update(market_versions)
                .where(market_versions.c.snapshot_at <= now)
                .values(
                    version=market_versions.c.version + 1,
                    snapshot_generation=market_versions.c.snapshot_generation + 1,
                    snapshot_at=now,
                )
            )
            if newer.rowcount == 0:
                return
            await connection.execute(delete(market_orchestrators))
            if orchestrators:
                await connection.execute(
                    insert(market_orchestrators), [_orchestrator_row(o, now) for o in orchestrators]
                )
        self._checked_at = -math.inf

    async def record_success(self, url: str, capability: str, latency_ms: float) -> None:
        async with self._writing() as connection:
            performance = (await self._read_performance(connection, url, capability)).after_success(
                latency_ms
            )
            await self._save_performance(connection, url, capability, performance)
            clean = Breaker()  # a success closes the breaker: written only when it was not
            await connection.execute(
                update(market_breakers)
                .where(market_breakers.c.url == url)
                .where(
                    or_(
                        *(market_breakers.c[name] != value for name, value in asdict(clean).items())
                    )
                )
                .values(asdict(clean))
            )
        self._remember(url, capability, performance, clean)

    async def record_failure(
        self, url: str, capability: str | None, kind: FailureKind, reason: str
    ) -> Breaker:
        """Count a failure against the orchestrator (and its capability, when a job failed);
        returns its breaker afterwards."""
        performance = None
        async with self._writing() as connection:
            if capability is not None:
                performance = (
                    await self._read_performance(connection, url, capability)
                ).after_failure()
                await self._save_performance(connection, url, capability, performance)
            breaker = (await self._read_breaker(connection, url)).on_failure(
                kind, reason[:300], time.time(), self.breaker_settings
            )
            await self._save_breaker(connection, url, breaker)
        self._remember(url, capability, performance, breaker)
        return breaker

    def _remember(
        self, url: str, capability: str | None, performance: Performance | None, breaker: Breaker
    ) -> None:
        """This process's own write, in its view at once (a new view: callers keep theirs)."""
        view = self._view
        scores = dict(view.performance)
        if capability is not None and performance is not None:
            scores[(url, capability)] = performance
        breakers = {**view.breakers, url: breaker}
        self._view = MarketView(view.orchestrators, scores, breakers, view.snapshot_at)

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that first counts itself in `version`, taking the lock that orders
        every market writer: what it reads next no other writer changes before it commits."""
        async with self._database.engine.begin() as connection:
            await connection.execute(
                update(market_versions).values(version=market_versions.c.version + 1)
            )
            yield connection

    async def _read_performance(
        self, connection: AsyncConnection, url: str, capability: str
    ) -> Performance:
        row = (
            await connection.execute(
                select(market_performance).where(
                    market_performance.c.url == url, market_performance.c.capability == capability
                )
            )
        ).first()
        return Performance() if row is None else _performance(row)

    async def _read_breaker(self, connection: AsyncConnection, url: str) -> Breaker:
        query = select(market_breakers).where(market_breakers.c.url == url)
        row = (await connection.execute(query)).first()
        return Breaker() if row is None else _breaker(row)

    async def _save_performance(
        self, connection: AsyncConnection, url: str, capability: str, performance: Performance
    ) -> None:
        key = {"url": url, "capability": capability}
        await self._save(connection, market_performance, key, asdict(performance))

    async def _save_breaker(self, connection: AsyncConnection, url: str, breaker: Breaker) -> None:
        await self._save(connection, market_breakers, {"url": url}, asdict(breaker))

    async def _save(
        self, connection: AsyncConnection, table: Table, key: dict[str, Any], row: dict[str, Any]
    ) -> None:
        """Insert or replace the row at `key` (the columns are named as the fields)."""
        statement = self._database.upsert(table).values(**key, **row)
        await connection.execute(
            statement.on_conflict_do_update(index_elements=list(key), set_=row)
        )


def _performance(row: Row[Any]) -> Performance:
    return Performance(row.latency_ms, row.success, row.jobs, row.failures)


def _breaker(row: Row[Any]) -> Breaker:
    return Breaker(row.consecutive_failures, row.openings, row.open_until, row.last_reason)


def _orchestrator(row: Row[Any]) -> KnownOrchestrator:
    return KnownOrchestrator(
        url=row.url,
        sources=tuple(row.sources),
        info=None if row.info is None else OrchestratorInfo.model_validate(row.info),
        info_error=row.info_error,
        stake=None if row.stake is None else int(row.stake),
        refreshed_at=row.refreshed_at,
    )


def _orchestrator_row(known: KnownOrchestrator, now: float) -> dict[str, Any]:
    return {
        "url": known.url,
        "sources": list(known.sources),
        "info": None if known.info is None else known.info.model_dump(mode="json"),
        "info_error": known.info_error,
        "stake": None if known.stake is None else str(known.stake),
        "refreshed_at": known.refreshed_at or now,
    }


def open_market_store(database: Database, settings: GatewaySettings) -> MarketStore:
    """The gateway's market store on its database, with its breaker settings."""
    return MarketStore(
        database,
        BreakerSettings(
            threshold=settings.breaker_threshold,
            base_cooldown_seconds=settings.breaker_cooldown_seconds,
            max_cooldown_seconds=settings.breaker_max_cooldown_seconds,
        ),
    )
