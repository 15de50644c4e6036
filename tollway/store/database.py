"""The gateway's database: one schema for SQLite (the embedded default) and PostgreSQL (at
scale), brought up to date by Alembic migrations whenever a process opens it.

Several processes open one database at once (gateway APIs, gateway workers, the CLI), so a
migration runs under a lock that every opener takes: a PostgreSQL advisory lock, or a file lock
beside a SQLite file.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from tollway.errors import ConfigurationError

__all__ = ["Database", "database_urls", "migrate", "open_database", "utc_now"]

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK_ID = 0x746F6C6C  # "toll": the advisory lock every PostgreSQL opener migrates under
SQLITE_BUSY_MS = 10_000
"""How long a SQLite writer waits for another process's write to end."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def database_urls(url: str) -> tuple[str, str]:
    """The (sync, async) SQLAlchemy URLs for `url`: `sqlite:///PATH` or `postgresql://...`
    (psycopg 3 serves both for PostgreSQL, aiosqlite the async side of SQLite)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(f"database URL {url!r} does not parse: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ConfigurationError("a SQLite database must be a file (sqlite:///PATH)")
        return (
            parsed.set(drivername="sqlite").render_as_string(hide_password=False),
            parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False),
        )
    if backend == "postgresql":
        both = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        return both, both
    raise ConfigurationError(
        f"database URL {parsed.render_as_string()!r}: tollway runs on sqlite:/// or postgresql://"
    )


@dataclass
class Database:
    """An open database: the async engine that routes and workers use, and its sessions."""

    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[Any]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def upsert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT into `table` that may end `ON CONFLICT ... DO UPDATE`: both databases
        take it, each in its own dialect's statement."""
        return postgresql.insert(table) if self.dialect == "postgresql" else sqlite.insert(table)

    async def close(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()


def migrate(url: str) -> None:
    """Bring the database at `url` up to the newest schema (idempotent, safe to run from several
    processes at once)."""
    sync_url, _ = database_urls(url)
    engine = create_engine(sync_url, poolclass=NullPool)
    _sqlite_pragmas(engine)
    try:
        with _migration_lock(engine), engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()


def open_database(url: str) -> Database:
    """Migrate the database at `url`, then open it for async use."""
    migrate(url)
    _, async_url = database_urls(url)
    if async_url.startswith("sqlite"):
        # One connection per process: its transactions queue for it in asyncio instead of
        # polling SQLite's lock; a local file needs no liveness ping.
        engine = create_async_engine(async_url, pool_size=1, max_overflow=0, pool_timeout=60)
    else:
        engine = create_async_engine(async_url, pool_pre_ping=True)
    _sqlite_pragmas(engine.sync_engine)
    return Database(
        url=url, engine=engine, sessions=async_sessionmaker(engine, expire_on_commit=False)
    )


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "sqlite":
        path = Path(str(engine.url.database))
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{path}.migrate-lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return
    with engine.connect() as connection:
        connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_ID})")
        try:
            yield
        finally:
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_ID})")


def _sqlite_pragmas(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL: readers never wait for the writer, and several processes share the file.
        cursor.execute("PRAGMA journal_mode=WAL")
        # No fsync per commit: a killed process loses nothing (only an OS crash could lose the
        # last commits), as with the gateway's other SQLite files.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
