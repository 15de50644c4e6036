"""Dependency aliases for gateway routes: services and the tenant behind an API key."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from tollway.api.gateway.services import GatewayServices
from tollway.errors import Unauthorized

__all__ = ["Services", "Tenant", "current_tenant", "get_services"]


def get_services(request: Request) -> GatewayServices:
    services: GatewayServices = request.app.state.services
    return services


Services = Annotated[GatewayServices, Depends(get_services)]


def current_tenant(
    services: Services, authorization: Annotated[str | None, Header()] = None
) -> str:
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("send the API key as `Authorization: Bearer <key>`")
    digest = hashlib.sha256(key.encode()).hexdigest()
    settings = services.settings
    keys = [("default", known) for known in settings.api_key_sha256] + [
        (name, known)
        for name, tenant in settings.tenants.items()
        for known in tenant.api_key_sha256
    ]
    # Compare against every key so the time taken does not say which tenant came close.
    matches = [name for name, known in keys if hmac.compare_digest(digest, known)]
    if not matches:
        raise Unauthorized("unknown API key")
    return matches[0]


Tenant = Annotated[str, Depends(current_tenant)]
