"""Tenants and API keys on each database: made, listed, scoped, rotated, revoked, expired."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tollway.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from tollway.store.database import Database, utc_now
from tollway.store.tenants import DEFAULT_SCOPES, TenantStore, key_digest


async def test_a_key_speaks_for_its_tenant_with_its_scopes(database: Database) -> None:
    store = TenantStore(database)
    await store.create_tenant("acme")
    made = await store.create_key("acme", "ci", ["jobs:read"], capabilities=["echo"])
    assert made.secret.startswith(made.key.prefix)
    assert made.key.prefix.startswith("tw_") and len(made.key.prefix) == 11
    principal = await store.authenticate(made.secret)
    assert (principal.tenant, principal.key_id, principal.scopes) == (
        "acme",
        made.key.id,
        ["jobs:read"],
    )
    principal.require("jobs:read")
    with pytest.raises(Forbidden, match="jobs:write"):
        principal.require("jobs:write")
    principal.require_capability("echo")
    with pytest.raises(Forbidden, match="'torch'"):
        principal.require_capability("torch")
    with pytest.raises(Forbidden):
        principal.tenant_for("other")
    assert principal.tenant_for(None) == "acme"


async def test_the_secret_is_never_stored(database: Database) -> None:
    store = TenantStore(database)
    await store.create_tenant("acme")
    made = await store.create_key("acme")
    async with database.engine.connect() as connection:
        rows = (await connection.exec_driver_sql("SELECT * FROM api_keys")).all()
    dumped = repr(rows)
    assert made.secret not in dumped
    assert key_digest(made.secret) in dumped
    listed = await store.list_keys("acme")
    assert [k.id for k in listed] == [made.key.id]
    assert "secret" not in listed[0].model_dump()


async def test_last_used_at_is_recorded(database: Database) -> None:
    store = TenantStore(database)
    await store.create_tenant("acme")
    made = await store.create_key("acme")
    assert (await store.get_key(made.key.id)).last_used_at is None
    before = utc_now()
    await store.authenticate(made.secret)
    used = (await store.get_key(made.key.id)).last_used_at
    assert used is not None and used >= before - timedelta(seconds=1)
    assert used.tzinfo is not None


async def test_revoked_expired_and_unknown_keys_are_refused_naming_why(database: Database) -> None:
    store = TenantStore(database)
    await store.create_tenant("acme")
    revoked = await store.create_key("acme")
    await store.revoke_key(revoked.key.id)
    with pytest.raises(Unauthorized, match="revoked"):
        await store.authenticate(revoked.secret)
    assert (await store.revoke_key(revoked.key.id)).revoked_at is not None  # idempotent
    soon = await store.create_key("acme", expires_at=utc_now() + timedelta(seconds=1))
    await store.authenticate(soon.secret)
    async with database.sessions.begin() as session:
        await session.execute(
            __import__("sqlalchemy").text("UPDATE api_keys SET expires_at = :t WHERE id = :i"),
            {"t": utc_now() - timedelta(seconds=1), "i": soon.key.id},
        )
    with pytest.raises(Unauthorized, match="expired"):
        await store.authenticate(soon.secret)
    with pytest.raises(Unauthorized, match="unknown"):
        await store.authenticate("tw_not-a-key")


async def test_a_disabled_tenant_keys_are_refused(database: Database) -> None:
    store = TenantStore(database)
    await store.create_tenant("acme")
    made = await store.create_key("acme")
    await store.disable_tenant("acme")
    with pytest.raises(Unauthorized, match="disabled"):
        await store.authenticate(made.secret)
    await store.disable_tenant("acme", disabled=False)
    assert (await store.authenticate(made.secret)).tenant == "acme"


async def test_rotation_keeps_the_old_key_for_its_grace(database: Database) -> None:
    store = TenantStore(database)
    await store.create_tenant("acme")
    old = await store.create_key("acme", "deploy", ["jobs:write", "jobs:read"], ["echo"])
    new = await store.rotate_key(old.key.id, timedelta(hours=1))
    assert new.secret != old.secret
    assert (new.key.scopes, new.key.capabilities) == (old.key.scopes, old.key.capabilities)
    assert (await store.authenticate(old.secret)).key_id == old.key.id
    assert (await store.authenticate(new.secret)).key_id == new.key.id
    rotated = await store.get_key(old.key.id)
    assert rotated.replaced_by == new.key.id
    assert rotated.expires_at is not None
    assert timedelta(minutes=59) < rotated.expires_at - utc_now() <= timedelta(hours=1)
    with pytest.raises(Conflict, match="rotated already"):
        await store.rotate_key(old.key.id, timedelta(hours=1))
    immediate = await store.rotate_key(new.key.id, timedelta(0))
    with pytest.raises(Unauthorized, match="expired"):
        await store.authenticate(new.secret)
    assert (await store.authenticate(immediate.secret)).tenant == "acme"


async def test_bad_tenants_and_scopes_are_refused(database: Database) -> None:
    store = TenantStore(database)
    await store.create_tenant("acme")
    with pytest.raises(Conflict, match="exists"):
        await store.create_tenant("acme")
    with pytest.raises(BadRequest) as bad:
        await store.create_tenant("Acme Corp")
    assert bad.value.details["field"] == "name"
    with pytest.raises(BadRequest, match="unknown scopes"):
        await store.create_key("acme", scopes=["jobs:delete"])  # type: ignore[list-item]
    with pytest.raises(BadRequest, match="at least one"):
        await store.create_key("acme", scopes=[])
    with pytest.raises(NotFound, match="nobody"):
        await store.create_key("nobody")
    with pytest.raises(NotFound):
        await store.revoke_key("key_missing")
    with pytest.raises(BadRequest, match="expire"):
        await store.create_key("acme", expires_at=utc_now() - timedelta(seconds=5))


async def test_configured_keys_are_seeded_once(database: Database) -> None:
    store = TenantStore(database)
    digest = key_digest("tw_configured")
    # Several processes starting at once seed the same key: one row, no error.
    await asyncio.gather(*(store.seed_key("default", digest, DEFAULT_SCOPES) for _ in range(4)))
    await store.seed_key("default", digest, DEFAULT_SCOPES)
    keys = await store.list_keys("default")
    assert len(keys) == 1
    principal = await store.authenticate("tw_configured")
    assert principal.tenant == "default"
    await store.revoke_key(keys[0].id)
    await store.seed_key("default", digest, DEFAULT_SCOPES)  # a restart does not bring it back
    with pytest.raises(Unauthorized, match="revoked"):
        await store.authenticate("tw_configured")
