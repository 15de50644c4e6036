"""The gateway's record of what each job cost (idempotent by job id)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from tollway.models import SettleInput


class SpendLedger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS job_costs (job_id TEXT PRIMARY KEY, tenant TEXT, "
            "capability TEXT, orchestrator TEXT, cost_wei TEXT, tickets INTEGER, ev_wei TEXT)"
        )
        self._lock = threading.Lock()

    def record(self, entry: SettleInput) -> bool:
        """True when this job's cost was recorded now, False when it already was."""
        with self._lock:
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
            return cursor.rowcount == 1

    def total_wei(self, tenant: str) -> int:
        with self._lock:
            rows = self._db.execute(
                "SELECT cost_wei FROM job_costs WHERE tenant = ?", (tenant,)
            ).fetchall()
        return sum(int(r[0]) for r in rows)
