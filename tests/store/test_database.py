"""The schema: migrations make exactly the tables the code declares, on both databases, and
several processes may open (and so migrate) one database at once."""

from __future__ import annotations

import multiprocessing

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from tollway.errors import ConfigurationError
from tollway.store.database import database_urls, migrate, open_database
from tollway.store.schema import metadata


def test_migrations_make_the_declared_schema(database_url: str) -> None:
    migrate(database_url)
    sync_url, _ = database_urls(database_url)
    engine = create_engine(sync_url)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_concurrent_openers_migrate_once(database_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        pool.map(migrate, [database_url] * 4)
    migrate(database_url)


async def test_open_twice_keeps_data(database_url: str) -> None:
    from tollway.store.tenants import TenantStore

    first = open_database(database_url)
    await TenantStore(first).create_tenant("acme")
    await first.close()
    second = open_database(database_url)
    try:
        assert [t.name for t in await TenantStore(second).list_tenants()] == ["acme"]
    finally:
        await second.close()


@pytest.mark.parametrize(
    "url", ["mysql://x@localhost/db", "sqlite://", "sqlite:///:memory:", "not a url"]
)
def test_unusable_urls_are_refused_naming_why(url: str) -> None:
    with pytest.raises(ConfigurationError):
        database_urls(url)
