"""Tenants and their API keys in the gateway database.

A key's secret is shown once, when it is made; the database keeps its SHA-256 (the secret is 32
random bytes, so a plain hash is enough) and a visible prefix to tell keys apart. A key carries
scopes, optionally the only capabilities it may use, an expiry, and when it was last used.
Rotating a key makes a new secret with the same powers and lets the old one live on for a grace
period; revoking one refuses it at once, in every process, since nothing is cached.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from tollway.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from tollway.store.database import Database, utc_now
from tollway.store.schema import api_keys, tenants

__all__ = [
    "CONFIGURED_SCOPES",
    "DEFAULT_SCOPES",
    "SCOPES",
    "ApiKey",
    "KeyLimits",
    "NewKey",
    "Principal",
    "Scope",
    "Tenant",
    "TenantStore",
    "key_digest",
]

Scope = Literal[
    "jobs:write", "jobs:read", "streams", "usage:read", "webhooks", "keys:write", "admin"
]
"""What a key may do: submit and cancel jobs, read them, run live streams, read usage, manage
its tenant's webhooks and read their deliveries, manage its own tenant's keys; `admin` is the
gateway operator's: every tenant and key."""
SCOPES: tuple[Scope, ...] = get_args(Scope)
DEFAULT_SCOPES: tuple[Scope, ...] = ("jobs:write", "jobs:read", "streams", "usage:read", "webhooks")
CONFIGURED_SCOPES: tuple[Scope, ...] = (*DEFAULT_SCOPES, "keys:write")
"""A key named in the gateway's settings is its tenant's own: it may manage the tenant's keys."""

KEY_PREFIX = "tw_"
SHOWN_PREFIX_CHARS = 11
"""`tw_` and the secret's first 8 characters: enough to tell keys apart, useless to guess one."""
LAST_USED_RESOLUTION = timedelta(seconds=10)
"""`last_used_at` is written at most this often per key, so a busy key costs no write per call."""
TENANT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class Tenant(BaseModel):
    name: str
    created_at: datetime
    disabled_at: datetime | None = None


class KeyLimits(BaseModel):
    """A key's own quotas, beside the gateway's defaults (None: the default)."""

    create_per_minute: int | None = Field(default=None, ge=1)
    read_per_minute: int | None = Field(default=None, ge=1)
    jobs_in_flight: int | None = Field(default=None, ge=1)


class ApiKey(BaseModel):
    """A key as listed: never its secret."""

    id: str
    tenant: str
    name: str
    prefix: str
    scopes: list[Scope]
    capabilities: list[str] | None = None
    """The only capabilities the key may use; None: any."""
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    replaced_by: str | None = None
    """The key that a rotation made to take this one's place."""
    limits: KeyLimits | None = None


class NewKey(BaseModel):
    key: ApiKey
    secret: str
    """Shown this once; only its hash is kept."""


class Principal(BaseModel):
    """Who a request's key speaks for, and what it may do."""

    tenant: str
    key_id: str
    scopes: list[Scope]
    capabilities: list[str] | None = None
    limits: KeyLimits | None = None

    def require(self, scope: Scope) -> None:
        if scope not in self.scopes and "admin" not in self.scopes:
            raise Forbidden(f"this API key lacks the scope {scope!r}", scope=scope)

    def require_capability(self, capability: str) -> None:
        if self.capabilities is not None and capability not in self.capabilities:
            raise Forbidden(
                f"this API key may not use the capability {capability!r}",
                capability=capability,
                allowed=self.capabilities,
            )

    def tenant_for(self, asked: str | None) -> str:
        """The tenant an admin request acts on: its own, or with `admin` any."""
        if asked is None or asked == self.tenant:
            return self.tenant
        self.require("admin")
        return asked


def key_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TenantStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    # Tenants

    async def create_tenant(self, name: str) -> Tenant:
        if not TENANT_NAME.match(name):
            raise BadRequest(
                "a tenant name is 1-64 of [a-z0-9_-], starting with a letter or digit",
                field="name",
            )
        tenant = Tenant(name=name, created_at=utc_now())
        try:
            async with self._db.sessions.begin() as session:
                await session.execute(insert(tenants).values(**tenant.model_dump()))
        except IntegrityError as exc:
            raise Conflict(f"tenant {name!r} exists already", field="name") from exc
        return tenant

    async def ensure_tenant(self, name: str) -> None:
        """The tenant, created if it is missing (configured tenants are seeded this way)."""
        if await self._tenant_row(name) is None:
            try:
                await self.create_tenant(name)
            except Conflict:
                pass  # another process seeded it first

    async def get_tenant(self, name: str) -> Tenant:
        row = await self._tenant_row(name)
        if row is None:
            raise NotFound(f"no tenant {name!r}")
        return Tenant.model_validate(row)

    async def list_tenants(self) -> list[Tenant]:
        async with self._db.sessions() as session:
            rows = (await session.execute(select(tenants).order_by(tenants.c.name))).mappings()
            return [Tenant.model_validate(dict(row)) for row in rows]

    async def disable_tenant(self, name: str, disabled: bool = True) -> Tenant:
        """A disabled tenant's keys all get 401 until it is enabled again."""
        await self.get_tenant(name)
        async with self._db.sessions.begin() as session:
            await session.execute(
                update(tenants)
                .where(tenants.c.name == name)
                .values(disabled_at=utc_now() if disabled else None)
            )
        return await self.get_tenant(name)

    async def _tenant_row(self, name: str) -> dict[str, Any] | None:
        async with self._db.sessions() as session:
            row = (
                (await session.execute(select(tenants).where(tenants.c.name == name)))
                .mappings()
                .first()
            )
            return dict(row) if row is not None else None

    # Keys

    async def create_key(
        self,
        tenant: str,
        name: str = "",
        scopes: Sequence[Scope] = DEFAULT_SCOPES,
        capabilities: Sequence[str] | None = None,
        expires_at: datetime | None = None,
        limits: KeyLimits | None = None,
    ) -> NewKey:
        await self.get_tenant(tenant)
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            id="key_" + secrets.token_hex(8),
            tenant=tenant,
            name=name,
            prefix=secret[:SHOWN_PREFIX_CHARS],
            scopes=_scopes(scopes),
            capabilities=sorted(set(capabilities)) if capabilities is not None else None,
            created_at=utc_now(),
            expires_at=expires_at,
            limits=limits,
        )
        if expires_at is not None and expires_at <= key.created_at:
            raise BadRequest("the key would expire before it is made", field="expires_at")
        async with self._db.sessions.begin() as session:
            await session.execute(
                insert(api_keys).values(
                    **key.model_dump(exclude={"limits"}),
                    limits=limits.model_dump(exclude_none=True) if limits else None,
                    secret_sha256=key_digest(secret),
                )
            )
        return NewKey(key=key, secret=secret)

    async def seed_key(self, tenant: str, secret_sha256: str, scopes: Sequence[Scope]) -> None:
        """A key configured by its hash (the gateway's settings), added once: a key revoked
        since stays revoked."""
        await self.ensure_tenant(tenant)
        try:
            async with self._db.sessions.begin() as session:
                known = await session.execute(
                    select(api_keys.c.id).where(api_keys.c.secret_sha256 == secret_sha256)
                )
                if known.first() is not None:
                    return
                await session.execute(
                    insert(api_keys).values(
                        id="key_" + secret_sha256[:16],
                        tenant=tenant,
                        name="configured",
                        prefix="(configured)",
                        secret_sha256=secret_sha256,
                        scopes=_scopes(scopes),
                        created_at=utc_now(),
                    )
                )
        except IntegrityError:
            pass  # another process, starting beside this one, seeded it first

    async def get_key(self, key_id: str) -> ApiKey:
        async with self._db.sessions() as session:
            row = (
                (await session.execute(select(api_keys).where(api_keys.c.id == key_id)))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"no API key {key_id!r}")
        return ApiKey.model_validate(dict(row))

    async def list_keys(self, tenant: str | None = None) -> list[ApiKey]:
        query = select(api_keys).order_by(api_keys.c.tenant, api_keys.c.created_at)
        if tenant is not None:
            query = query.where(api_keys.c.tenant == tenant)
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).mappings()
            return [ApiKey.model_validate(dict(row)) for row in rows]

    async def rotate_key(self, key_id: str, grace: timedelta) -> NewKey:
        """A new key with the old one's tenant, scopes, capabilities and expiry; the old one
        expires after `grace` (at once with a zero grace)."""
        old = await self.get_key(key_id)
        if old.revoked_at is not None:
            raise Conflict(f"API key {key_id!r} is revoked: make a new one", field="key_id")
        if old.replaced_by is not None:
            raise Conflict(
                f"API key {key_id!r} was rotated already, to {old.replaced_by!r}",
                field="key_id",
                replaced_by=old.replaced_by,
            )
        new = await self.create_key(
            old.tenant, old.name, old.scopes, old.capabilities, old.expires_at, old.limits
        )
        ends = utc_now() + grace
        if old.expires_at is not None:
            ends = min(ends, old.expires_at)
        async with self._db.sessions.begin() as session:
            await session.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id)
                .values(expires_at=ends, replaced_by=new.key.id)
            )
        return new

    async def revoke_key(self, key_id: str) -> ApiKey:
        key = await self.get_key(key_id)
        if key.revoked_at is None:
            async with self._db.sessions.begin() as session:
                await session.execute(
                    update(api_keys)
                    .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                    .values(revoked_at=utc_now())
                )
        return await self.get_key(key_id)

    async def authenticate(self, secret: str) -> Principal:
        """Who `secret` speaks for; 401 naming why when it is unknown, revoked or expired, or
        its tenant is disabled."""
        digest = key_digest(secret)
        async with self._db.sessions() as session:
            row = (
                await session.execute(
                    select(
                        api_keys.c.id,
                        api_keys.c.tenant,
                        api_keys.c.scopes,
                        api_keys.c.capabilities,
                        api_keys.c.limits,
                        api_keys.c.expires_at,
                        api_keys.c.revoked_at,
                        api_keys.c.last_used_at,
                        tenants.c.disabled_at,
                    )
                    .join(tenants, tenants.c.name == api_keys.c.tenant)
                    .where(api_keys.c.secret_sha256 == digest)
                )
            ).first()
        if row is None:
            raise Unauthorized("unknown API key")
        now = utc_now()
        if row.revoked_at is not None:
            raise Unauthorized(f"API key {row.id} was revoked", key_id=row.id)
        if row.expires_at is not None and row.expires_at <= now:
            raise Unauthorized(f"API key {row.id} expired", key_id=row.id)
        if row.disabled_at is not None:
            raise Unauthorized(f"tenant {row.tenant!r} is disabled", key_id=row.id)
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
            async with self._db.sessions.begin() as session:
                await session.execute(
                    update(api_keys).where(api_keys.c.id == row.id).values(last_used_at=now)
                )
        return Principal(
            tenant=row.tenant,
            key_id=row.id,
            scopes=row.scopes,
            capabilities=row.capabilities,
            limits=row.limits,
        )


def _scopes(scopes: Sequence[str]) -> list[Scope]:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise BadRequest(
            f"unknown scopes {unknown}; known: {list(SCOPES)}", field="scopes", known=list(SCOPES)
        )
    if not scopes:
        raise BadRequest("a key needs at least one scope", field="scopes")
    return [s for s in SCOPES if s in scopes]
