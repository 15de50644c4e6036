"""The gateway's market memory in sqlite: the latest network snapshot, observed performance per
(orchestrator, capability) and a circuit breaker per orchestrator.

Shared by the gateway's API and worker processes and kept across restarts. Reads come from an
in-memory view that is reloaded only when some connection has committed since (sqlite's
`data_version`), and the snapshot's many infos only when the snapshot itself changed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tollway.config import GatewaySettings
from tollway.market.breaker import Breaker, BreakerSettings, FailureKind
from tollway.protocol.info import OrchestratorInfo

__all__ = [
    "SUCCESS_PRIOR",
    "KnownOrchestrator",
    "MarketStore",
    "MarketView",
    "Performance",
    "open_market_store",
]

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
    def __init__(self, path: Path, breaker_settings: BreakerSettings | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # scores and breakers: no fsync a job
        self._db.executescript(
            "CREATE TABLE IF NOT EXISTS orchestrators (url TEXT PRIMARY KEY, sources TEXT, "
            "info TEXT, info_error TEXT, stake TEXT, refreshed_at REAL);"
            "CREATE TABLE IF NOT EXISTS performance (url TEXT, capability TEXT, latency_ms REAL, "
            "success REAL, jobs INTEGER, failures INTEGER, PRIMARY KEY (url, capability));"
            "CREATE TABLE IF NOT EXISTS breakers (url TEXT PRIMARY KEY, consecutive_failures "
            "INTEGER, openings INTEGER, open_until REAL, last_reason TEXT);"
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value REAL);"
        )
        self.breaker_settings = breaker_settings or BreakerSettings()
        self._lock = threading.Lock()
        self._view = MarketView()
        self._data_version = -1
        self._snapshot_generation: float | None = -1.0

    # ---- reading -------------------------------------------------------------------------

    def view(self) -> MarketView:
        """The current market; cheap when nothing changed since the last call."""
        with self._lock:
            version = self._db.execute("PRAGMA data_version").fetchone()[0]
            if version != self._data_version:
                self._reload()
                self._data_version = version
            return self._view

    def _reload(self) -> None:
        generation = self._meta("snapshot_generation")
        orchestrators = self._view.orchestrators
        if generation != self._snapshot_generation:
            orchestrators = [_orchestrator(row) for row in self._db.execute(
                "SELECT url, sources, info, info_error, stake, refreshed_at FROM orchestrators "
                "ORDER BY url"
            )]  # fmt: skip
            self._snapshot_generation = generation
        performance = {
            (url, capability): Performance(latency, success, jobs, failures)
            for url, capability, latency, success, jobs, failures in self._db.execute(
                "SELECT url, capability, latency_ms, success, jobs, failures FROM performance"
            )
        }
        breakers = {
            url: Breaker(failures, openings, open_until, reason)
            for url, failures, openings, open_until, reason in self._db.execute(
                "SELECT url, consecutive_failures, openings, open_until, last_reason FROM breakers"
            )
        }
        self._view = MarketView(
            orchestrators, performance, breakers, self._meta("snapshot_at") or 0.0
        )

    def _meta(self, key: str) -> float | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else float(row[0])

    # ---- writing -------------------------------------------------------------------------

    def replace_snapshot(
        self, orchestrators: list[KnownOrchestrator], taken_at: float | None = None
    ) -> None:
        """The network as the latest refresh saw it, that refresh having begun at `taken_at`
        (what it says may be that old); performance and breakers are kept. A refresh that
        began before the snapshot already stored (overlapping refreshes) changes nothing."""
        now = time.time() if taken_at is None else taken_at
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            if now < (self._meta("snapshot_at") or 0.0):
                self._db.execute("COMMIT")
                return
            self._db.execute("DELETE FROM orchestrators")
            self._db.executemany(
                "INSERT INTO orchestrators VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        o.url,
                        ",".join(o.sources),
                        o.info.model_dump_json() if o.info else None,
                        o.info_error,
                        None if o.stake is None else str(o.stake),
                        o.refreshed_at or now,
                    )
                    for o in orchestrators
                ],
            )
            self._set_meta("snapshot_generation", (self._meta("snapshot_generation") or 0) + 1)
            self._set_meta("snapshot_at", now)
            self._db.execute("COMMIT")
            self._data_version = -1

    def record_success(self, url: str, capability: str, latency_ms: float) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            performance = self._performance(url, capability).after_success(latency_ms)
            self._save_performance(url, capability, performance)
            self._save_breaker(url, Breaker())
            self._db.execute("COMMIT")
            self._data_version = -1

    def record_failure(
        self, url: str, capability: str | None, kind: FailureKind, reason: str
    ) -> Breaker:
        """Count a failure against the orchestrator (and its capability, when a job failed);
        returns its breaker afterwards."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            if capability is not None:
                performance = self._performance(url, capability).after_failure()
                self._save_performance(url, capability, performance)
            breaker = self._breaker(url).on_failure(
                kind, reason[:300], time.time(), self.breaker_settings
            )
            self._save_breaker(url, breaker)
            self._db.execute("COMMIT")
            self._data_version = -1
            return breaker

    def _performance(self, url: str, capability: str) -> Performance:
        row = self._db.execute(
            "SELECT latency_ms, success, jobs, failures FROM performance "
            "WHERE url = ? AND capability = ?",
            (url, capability),
        ).fetchone()
        return Performance(*row) if row else Performance()

    def _save_performance(self, url: str, capability: str, p: Performance) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO performance VALUES (?, ?, ?, ?, ?, ?)",
            (url, capability, p.latency_ms, p.success, p.jobs, p.failures),
        )

    def _breaker(self, url: str) -> Breaker:
        row = self._db.execute(
            "SELECT consecutive_failures, openings, open_until, last_reason FROM breakers "
            "WHERE url = ?",
            (url,),
        ).fetchone()
        return Breaker(*row) if row else Breaker()

    def _save_breaker(self, url: str, b: Breaker) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO breakers VALUES (?, ?, ?, ?, ?)",
            (url, b.consecutive_failures, b.openings, b.open_until, b.last_reason),
        )

    def _set_meta(self, key: str, value: float) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def close(self) -> None:
        self._db.close()


def _orchestrator(row: tuple[str, str, str | None, str, str | None, float]) -> KnownOrchestrator:
    url, sources, info, info_error, stake, refreshed_at = row
    return KnownOrchestrator(
        url=url,
        sources=tuple(s for s in sources.split(",") if s),
        info=OrchestratorInfo.model_validate(json.loads(info)) if info else None,
        info_error=info_error,
        stake=None if stake is None else int(stake),
        refreshed_at=refreshed_at,
    )


def open_market_store(settings: GatewaySettings) -> MarketStore:
    """The gateway's market store, in its data directory, with its breaker settings."""
    return MarketStore(
        settings.data_dir / "market.sqlite",
        BreakerSettings(
            threshold=settings.breaker_threshold,
            base_cooldown_seconds=settings.breaker_cooldown_seconds,
            max_cooldown_seconds=settings.breaker_max_cooldown_seconds,
        ),
    )
