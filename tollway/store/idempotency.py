"""Idempotency records of job submissions: a tenant's key names one request, ever.

The first submission with a key records a hash of its request and the job it made; the same key
with the same request is that job again, and with another request it is refused (422), not
silently the first job. The record is written before the job starts, so two processes racing
with one key agree on whose request it is.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from tollway.errors import IdempotencyKeyReused
from tollway.store.database import Database, utc_now
from tollway.store.schema import idempotency_keys

__all__ = ["IdempotencyStore", "request_digest"]


def request_digest(request: Any) -> str:
    """SHA-256 of a request's canonical JSON (keys sorted, no spaces)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def claim(self, tenant: str, key: str, digest: str, job_id: str) -> bool:
        """Record that `key` names `job_id` for this request: True when this is the first time,
        False when the same request came before; IdempotencyKeyReused when another did."""
        try:
            async with self._db.sessions.begin() as session:
                await session.execute(
                    insert(idempotency_keys).values(
                        tenant=tenant,
                        key=key,
                        request_sha256=digest,
                        job_id=job_id,
                        created_at=utc_now(),
                    )
                )
            return True
        except IntegrityError:
            pass
        async with self._db.sessions() as session:
            row = (
                await session.execute(
                    select(idempotency_keys.c.request_sha256, idempotency_keys.c.job_id).where(
                        idempotency_keys.c.tenant == tenant, idempotency_keys.c.key == key
                    )
                )
            ).one()
        if row.request_sha256 != digest:
            raise IdempotencyKeyReused(
                f"idempotency key {key!r} was used for another request (job {row.job_id}); "
                "send a new key for a new request",
                field="idempotency_key",
                job_id=row.job_id,
            )
        return False
