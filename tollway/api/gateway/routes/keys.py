"""API keys: `/v1/keys`. A key with `keys:write` manages its own tenant's keys (never granting
scopes it lacks itself); an `admin` key any tenant's. A new or rotated key's secret is in the
answer once and never again."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, Field

from tollway.api.gateway.deps import KeyManager, Services
from tollway.api.openapi import problems
from tollway.errors import BadRequest, Conflict, Forbidden, NotFound
from tollway.store.tenants import DEFAULT_SCOPES, ApiKey, KeyLimits, NewKey, Principal, Scope

__all__ = ["KeyRequest", "RotateRequest", "router"]

router = APIRouter(prefix="/v1/keys", tags=["keys"])

DEFAULT_GRACE_SECONDS = 24 * 3600


class KeyRequest(BaseModel):
    name: str = Field(default="", max_length=128)
    scopes: list[Scope] = Field(default=list(DEFAULT_SCOPES), min_length=1)
    capabilities: list[str] | None = Field(
        default=None, description="The only capabilities the key may use; omitted: any."
    )
    expires_at: AwareDatetime | None = None
    limits: KeyLimits | None = Field(
        default=None, description="Its own quotas; omitted: the gateway's defaults."
    )
    tenant: str | None = Field(default=None, description="Another tenant's key: `admin` only.")


class RotateRequest(BaseModel):
    grace_seconds: int = Field(
        default=DEFAULT_GRACE_SECONDS,
        ge=0,
        le=30 * 24 * 3600,
        description="How long the old key keeps working beside the new one.",
    )


@router.post("", status_code=201, responses=problems(BadRequest, NotFound))
async def create_key(request: KeyRequest, services: Services, caller: KeyManager) -> NewKey:
    tenant = caller.tenant_for(request.tenant)
    if "admin" not in caller.scopes:
        beyond = [s for s in request.scopes if s not in caller.scopes]
        if beyond:
            raise Forbidden(f"a key cannot grant scopes it lacks: {beyond}", field="scopes")
    return await services.tenants.create_key(
        tenant,
        request.name,
        request.scopes,
        request.capabilities,
        request.expires_at,
        request.limits,
    )


@router.get("")
async def list_keys(
    services: Services, caller: KeyManager, tenant: str | None = None
) -> list[ApiKey]:
    """The tenant's keys (an `admin` key: any tenant's, or every key without `tenant`)."""
    if tenant is None and "admin" in caller.scopes:
        return await services.tenants.list_keys()
    return await services.tenants.list_keys(caller.tenant_for(tenant))


@router.get("/{key_id}", responses=problems(NotFound))
async def get_key(key_id: str, services: Services, caller: KeyManager) -> ApiKey:
    return await _visible(key_id, services, caller)


@router.post("/{key_id}/rotate", status_code=201, responses=problems(NotFound, Conflict))
async def rotate_key(
    key_id: str, services: Services, caller: KeyManager, request: RotateRequest | None = None
) -> NewKey:
    """A new secret with the key's powers; the old one works for `grace_seconds` more."""
    await _visible(key_id, services, caller)
    grace = (request or RotateRequest()).grace_seconds
    return await services.tenants.rotate_key(key_id, timedelta(seconds=grace))


@router.delete("/{key_id}", responses=problems(NotFound))
async def revoke_key(key_id: str, services: Services, caller: KeyManager) -> ApiKey:
    """Revoke the key: from now on it gets 401, on every gateway API process."""
    await _visible(key_id, services, caller)
    return await services.tenants.revoke_key(key_id)


async def _visible(key_id: str, services: Services, caller: Principal) -> ApiKey:
    key = await services.tenants.get_key(key_id)
    if key.tenant != caller.tenant and "admin" not in caller.scopes:
        raise NotFound(f"no API key {key_id!r}")
    return key
