"""Idempotency records: the same key and request is the same job; another request is refused."""

from __future__ import annotations

import asyncio

import pytest

from tollway.errors import IdempotencyKeyReused
from tollway.store.database import Database
from tollway.store.idempotency import IdempotencyStore, request_digest


async def test_same_request_replays_another_is_refused(database: Database) -> None:
    store = IdempotencyStore(database)
    first = request_digest({"capability": "echo", "input": {"a": 1}})
    same = request_digest({"input": {"a": 1}, "capability": "echo"})
    other = request_digest({"capability": "echo", "input": {"a": 2}})
    assert first == same != other
    assert await store.claim("acme", "k1", first, "acme.k1") is True
    assert await store.claim("acme", "k1", same, "acme.k1") is False
    with pytest.raises(IdempotencyKeyReused, match=r"acme\.k1") as refused:
        await store.claim("acme", "k1", other, "acme.k1")
    assert refused.value.details["field"] == "idempotency_key"
    # Scoped per tenant: another tenant's same key is its own.
    assert await store.claim("other", "k1", other, "other.k1") is True


async def test_racing_claims_agree_on_one_request(database: Database) -> None:
    store = IdempotencyStore(database)
    digests = [request_digest({"n": n}) for n in range(8)]
    results = await asyncio.gather(
        *(store.claim("acme", "race", d, "acme.race") for d in digests), return_exceptions=True
    )
    winners = [r for r in results if r is True]
    assert len(winners) == 1
    assert all(isinstance(r, IdempotencyKeyReused) for r in results if r is not True)
