"""Dependency aliases for gateway routes: services and the tenant behind an API key."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from tollway.api.gateway.services import GatewayServices
from tollway.errors import Unauthorized


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
    if not any(hmac.compare_digest(digest, known) for known in services.settings.api_key_sha256):
        raise Unauthorized("unknown API key")
    return "default"


Tenant = Annotated[str, Depends(current_tenant)]
