"""The store's tests run twice: on a SQLite file and on a real PostgreSQL server started here
(Debian's `postgresql`, which the setup step installs); no PostgreSQL fails them, never skips."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.postgres import postgres
from tollway.devnet.postgres import PostgresServer
from tollway.store.database import Database, database_urls, open_database

__all__ = ["database", "database_url", "postgres"]

_databases = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gateway.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"t{next(_databases)}"
    sync_url, _ = database_urls(server.url)
    admin = create_engine(sync_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    yield server.url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = open_database(database_url)
    try:
        yield db
    finally:
        await db.close()
