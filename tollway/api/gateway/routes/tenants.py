"""Tenants: `/v1/tenants`, for the gateway's operator (an `admin` key)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tollway.api.gateway.deps import Admin, Services
from tollway.api.openapi import problems
from tollway.errors import BadRequest, Conflict, NotFound
from tollway.store.tenants import Tenant

__all__ = ["TenantRequest", "router"]

router = APIRouter(prefix="/v1/tenants", tags=["tenants"])


class TenantRequest(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")


class TenantChange(BaseModel):
    disabled: bool


@router.post("", status_code=201, responses=problems(BadRequest, Conflict))
async def create_tenant(request: TenantRequest, services: Services, _: Admin) -> Tenant:
    return await services.tenants.create_tenant(request.name)


@router.get("")
async def list_tenants(services: Services, _: Admin) -> list[Tenant]:
    return await services.tenants.list_tenants()


@router.get("/{name}", responses=problems(NotFound))
async def get_tenant(name: str, services: Services, _: Admin) -> Tenant:
    return await services.tenants.get_tenant(name)


@router.patch("/{name}", responses=problems(NotFound))
async def change_tenant(name: str, change: TenantChange, services: Services, _: Admin) -> Tenant:
    """Disable a tenant (every key of it gets 401) or enable it again."""
    return await services.tenants.disable_tenant(name, change.disabled)
