"""Ticket nonces in the gateway database: every gateway worker, on every host, allocates from
one counter per recipientRandHash, so no nonce is ever signed twice for the same params, even
when a job that one host began paying for resumes on another."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import delete

from tollway.store.database import Database, utc_now
from tollway.store.schema import pm_sessions

__all__ = ["SharedNonces"]

KEEP = timedelta(days=1)
"""Ticket params expire within minutes of their making; a day-old counter is never used again."""
PRUNE_EVERY_SECONDS = 3600.0


class SharedNonces:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._next_prune = 0.0

    async def allocate(self, recipient_rand_hash: bytes, count: int) -> range:
        """`count` fresh nonces for these params, starting at 1 for new params (one atomic
        statement: concurrent callers on any host get disjoint ranges)."""
        if count <= 0:
            return range(0)
        insert = self._database.upsert(pm_sessions).values(
            recipient_rand_hash=recipient_rand_hash, last_nonce=count, created_at=utc_now()
        )
        statement = insert.on_conflict_do_update(
            index_elements=[pm_sessions.c.recipient_rand_hash],
            set_={"last_nonce": pm_sessions.c.last_nonce + count},
        ).returning(pm_sessions.c.last_nonce)
        async with self._database.engine.begin() as connection:
            last = int((await connection.execute(statement)).scalar_one())
            if time.monotonic() >= self._next_prune:
                self._next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                await connection.execute(
                    delete(pm_sessions).where(pm_sessions.c.created_at < utc_now() - KEEP)
                )
        return range(last - count + 1, last + 1)
