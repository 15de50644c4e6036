"""Ticket nonces in the gateway database, on SQLite and PostgreSQL: from 1 per params, never
handed out twice, however many senders on however many hosts allocate at once."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

from sqlalchemy import select, update

from tollway.store import nonces as nonces_module
from tollway.store.database import Database, open_database, utc_now
from tollway.store.nonces import SharedNonces
from tollway.store.schema import pm_sessions

HASH_A = b"\xaa" * 32
HASH_B = b"\xbb" * 32


async def test_nonces_start_at_one_and_continue_per_params(database: Database) -> None:
    nonces = SharedNonces(database)
    assert list(await nonces.allocate(HASH_A, 3)) == [1, 2, 3]
    assert list(await nonces.allocate(HASH_B, 2)) == [1, 2]
    assert list(await nonces.allocate(HASH_A, 0)) == []
    assert list(await nonces.allocate(HASH_A, 2)) == [4, 5]


async def test_two_hosts_never_get_the_same_nonce(database_url: str) -> None:
    """Two processes' databases on one (as two hosts' workers), allocating at once."""
    first, second = open_database(database_url), open_database(database_url)
    try:
        hosts = [SharedNonces(first), SharedNonces(second)]
        ranges = await asyncio.gather(
            *(hosts[n % 2].allocate(HASH_A, 1 + n % 3) for n in range(60))
        )
        handed_out = sorted(itertools.chain.from_iterable(ranges))
        assert handed_out == list(range(1, len(handed_out) + 1))
    finally:
        await first.close()
        await second.close()


async def test_counters_a_day_old_are_pruned(database: Database) -> None:
    nonces = SharedNonces(database)
    await nonces.allocate(HASH_A, 1)
    async with database.engine.begin() as connection:
        await connection.execute(
            update(pm_sessions).values(created_at=utc_now() - nonces_module.KEEP - timedelta(1))
        )
    nonces._next_prune = 0.0
    assert list(await nonces.allocate(HASH_B, 1)) == [1]
    async with database.engine.connect() as connection:
        kept: list[bytes] = list(
            (await connection.execute(select(pm_sessions.c.recipient_rand_hash))).scalars()
        )
    assert kept == [HASH_B]
