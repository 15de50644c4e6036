"""Where an orchestrator keeps its capability registrations, so they survive a restart: a
SQLite file of its own, one row per registration (a replica's keyed by name and replica)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

__all__ = ["RegistrationStore"]

_SEPARATOR = "\x1f"
"""Between a capability's name and its replica in a row's key (no name holds it)."""

_SCHEMA = "CREATE TABLE IF NOT EXISTS capabilities (name TEXT PRIMARY KEY, body TEXT NOT NULL)"


class RegistrationStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()

    def save(self, name: str, replica: str, body: str | None) -> None:
        """Store (or, with None, forget) the registration of `name`'s `replica` ("" for a lone
        registration)."""
        key = f"{name}{_SEPARATOR}{replica}" if replica else name
        with self._lock:
            if body is None:
                self._db.execute("DELETE FROM capabilities WHERE name = ?", (key,))
            else:
                self._db.execute(
                    "INSERT INTO capabilities (name, body) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET body = excluded.body",
                    (key, body),
                )

    def forget(self, name: str) -> None:
        """Forget every registration of `name`: its lone one and each replica's."""
        with self._lock:
            self._db.execute(
                "DELETE FROM capabilities WHERE name = ? OR substr(name, 1, ?) = ?",
                (name, len(name) + 1, name + _SEPARATOR),
            )

    def bodies(self) -> list[str]:
        """Every stored registration's JSON."""
        with self._lock:
            return [str(row[0]) for row in self._db.execute("SELECT body FROM capabilities")]

    def close(self) -> None:
        self._db.close()
