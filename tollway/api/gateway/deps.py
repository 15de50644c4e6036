"""Dependency aliases for gateway routes: services, and the tenant's key behind a request with
the scope the route needs (401 for a missing, unknown, revoked or expired key; 403 for a key
without the scope)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.openapi.models import HTTPBearer
from fastapi.routing import APIRoute

from tollway.api.gateway.ratelimit import Bucket
from tollway.api.gateway.services import GatewayServices
from tollway.api.openapi import RawAuthorization, raises
from tollway.errors import Forbidden, RateLimited, Unauthorized
from tollway.store.tenants import Principal, Scope

__all__ = [
    "Admin",
    "JobReader",
    "JobWriter",
    "KeyManager",
    "LivepeerCaller",
    "Services",
    "StreamUser",
    "UsageReader",
    "WebhookManager",
    "current_principal",
    "get_services",
]


def get_services(request: Request) -> GatewayServices:
    services: GatewayServices = request.app.state.services
    return services


Services = Annotated[GatewayServices, Depends(get_services)]

CREATE_ROUTES = {
    ("POST", "/v1/jobs"),
    ("POST", "/v1/streams"),
    ("POST", "/process/request/{path:path}"),
    ("POST", "/process/stream/start"),
}
"""The routes that start work, counted in a key's `create` bucket; the rest in `read`."""

AuthorizationHeader = Annotated[
    str | None,
    Depends(
        RawAuthorization(
            HTTPBearer(description="A tenant's API key, made by `tollway keys create`."),
            "ApiKey",
        )
    ),
]


@raises(Unauthorized, RateLimited)
async def current_principal(
    request: Request, services: Services, authorization: AuthorizationHeader = None
) -> Principal:
    """The key's principal, its request counted against its rate limit (429 past it); the
    answer will carry the `RateLimit` headers."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("send the API key as `Authorization: Bearer <key>`")
    principal = await services.tenants.authenticate(key.strip())
    route = request.scope.get("route")
    path = route.path if isinstance(route, APIRoute) else request.url.path
    bucket: Bucket = "create" if (request.method, path) in CREATE_ROUTES else "read"
    limits = principal.limits
    own = None
    if limits is not None:
        own = limits.create_per_minute if bucket == "create" else limits.read_per_minute
    state = await services.rate_limits.hit(principal.key_id, bucket, own)
    request.state.headers = state.headers()
    return principal


async def optional_principal(
    request: Request, services: Services, authorization: AuthorizationHeader = None
) -> Principal | None:
    """The key's principal when one is sent; None on a route that may be used without one."""
    if authorization is None:
        return None
    return await current_principal(request, services, authorization)


@raises(Unauthorized, RateLimited)
async def livepeer_principal(
    request: Request, services: Services, authorization: AuthorizationHeader = None
) -> Principal | None:
    """On go-livepeer's routes: the key's principal when one is sent, and one is required when
    the operator says so (`livepeer_routes_need_key`)."""
    principal = await optional_principal(request, services, authorization)
    if principal is None and services.settings.livepeer_routes_need_key:
        raise Unauthorized(
            "this gateway requires an API key on /process routes: "
            "send `Authorization: Bearer <key>`"
        )
    return principal


def _scoped(scope: Scope) -> Callable[[Principal], Awaitable[Principal]]:
    @raises(Forbidden)
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        principal.require(scope)
        return principal

    return check


LivepeerCaller = Annotated[Principal | None, Depends(livepeer_principal)]
JobWriter = Annotated[Principal, Depends(_scoped("jobs:write"))]
JobReader = Annotated[Principal, Depends(_scoped("jobs:read"))]
StreamUser = Annotated[Principal, Depends(_scoped("streams"))]
UsageReader = Annotated[Principal, Depends(_scoped("usage:read"))]
WebhookManager = Annotated[Principal, Depends(_scoped("webhooks"))]
KeyManager = Annotated[Principal, Depends(_scoped("keys:write"))]
Admin = Annotated[Principal, Depends(_scoped("admin"))]
