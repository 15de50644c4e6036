"""The gateway's money records: what each job cost (idempotent by job id), a mirror of the
credit it holds with each orchestrator, so a reported balance is never trusted beyond it, and
the credit its in-flight jobs hold there, so concurrent jobs do not count the same credit twice
(the orchestrator admits a job only on credit its other running jobs do not hold)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from pydantic import BaseModel

__all__ = ["SettleInput", "SpendLedger"]


class SettleInput(BaseModel):
    """A finished job's cost and the tickets it took, recorded once per job id."""

    job_id: str
    tenant: str
    capability: str
    orchestrator: str
    orchestrator_address: str
    cost_wei: int
    tickets: int
    ev_wei: int


class SpendLedger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # WAL without an fsync per commit: a killed process loses nothing (only an OS crash
        # could lose the last commits); the API and the workers share the file.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS job_costs (job_id TEXT PRIMARY KEY, tenant TEXT, "
            "capability TEXT, orchestrator TEXT, cost_wei TEXT, tickets INTEGER, ev_wei TEXT)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS credit_mirror (orchestrator TEXT, capability TEXT, "
            "wei TEXT NOT NULL, PRIMARY KEY (orchestrator, capability))"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS reservations (job_id TEXT PRIMARY KEY, orchestrator TEXT, "
            "capability TEXT, wei TEXT NOT NULL, expires_at REAL)"
        )
        self._lock = threading.Lock()

    def _mirror(self, orchestrator: str, capability: str) -> int:
        row = self._db.execute(
            "SELECT wei FROM credit_mirror WHERE orchestrator = ? AND capability = ?",
            (orchestrator, capability),
        ).fetchone()
        return int(row[0]) if row else 0

    def _add_mirror(self, orchestrator: str, capability: str, delta: int) -> None:
        self._db.execute(
            "INSERT INTO credit_mirror VALUES (?, ?, ?) ON CONFLICT (orchestrator, capability) "
            "DO UPDATE SET wei = excluded.wei",
            (orchestrator, capability, str(self._mirror(orchestrator, capability) + delta)),
        )

    def trusted_balance(self, orchestrator: str, capability: str, reported: int) -> int:
        """The orchestrator's reported credit, never more than what we paid minus what we used."""
        with self._lock:
            return self._trusted(orchestrator, capability, reported)

    def _trusted(self, orchestrator: str, capability: str, reported: int) -> int:
        return max(0, min(reported, self._mirror(orchestrator, capability)))

    def reserve(
        self,
        job_id: str,
        orchestrator: str,
        capability: str,
        reported: int,
        required: int,
        ttl_seconds: float,
    ) -> int:
        """Hold `required` wei of credit with `orchestrator` for this job (replacing the job's
        earlier hold) and return how much of it credit already covers: the trusted balance less
        what the gateway's other in-flight jobs hold there. Holds lapse after `ttl_seconds`."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM reservations WHERE expires_at < ?", (now,))
            held = sum(
                int(row[0])
                for row in self._db.execute(
                    "SELECT wei FROM reservations WHERE orchestrator = ? AND capability = ? "
                    "AND job_id != ?",
                    (orchestrator, capability, job_id),
                )
            )
            trusted = self._trusted(orchestrator, capability, reported)
            self._db.execute(
                "INSERT OR REPLACE INTO reservations VALUES (?, ?, ?, ?, ?)",
                (job_id, orchestrator, capability, str(required), now + ttl_seconds),
            )
            self._db.execute("COMMIT")
            return max(0, trusted - held)

    def release(self, job_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM reservations WHERE job_id = ?", (job_id,))

    def paid(self, orchestrator: str, capability: str, ev_wei: int) -> None:
        with self._lock:
            self._add_mirror(orchestrator, capability, ev_wei)

    def record(self, entry: SettleInput) -> bool:
        """True when this job's cost was recorded now (and taken from the mirror), False when
        it already was."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO job_costs VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.job_id,
                    entry.tenant,
                    entry.capability,
                    entry.orchestrator,
                    str(entry.cost_wei),
                    entry.tickets,
                    str(entry.ev_wei),
                ),
            )
            recorded = cursor.rowcount == 1
            if recorded:
                self._add_mirror(entry.orchestrator_address, entry.capability, -entry.cost_wei)
            self._db.execute("COMMIT")
            return recorded

    def total_wei(self, tenant: str) -> int:
        with self._lock:
            rows = self._db.execute(
                "SELECT cost_wei FROM job_costs WHERE tenant = ?", (tenant,)
            ).fetchall()
        return sum(int(r[0]) for r in rows)
