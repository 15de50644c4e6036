"""Dependency aliases for orchestrator routes."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.openapi.models import APIKey, APIKeyIn

from tollway.api.openapi import RawAuthorization, raises
from tollway.api.orchestrator.services import OrchestratorServices
from tollway.errors import Unauthorized

__all__ = ["SecretChecked", "Services", "get_services", "require_secret"]


def get_services(request: Request) -> OrchestratorServices:
    services: OrchestratorServices = request.app.state.services
    return services


Services = Annotated[OrchestratorServices, Depends(get_services)]


_SECRET = RawAuthorization(
    APIKey(
        **{"in": APIKeyIn.header},
        name="Authorization",
        description="The orchestrator's secret, as it is (no `Bearer`), as go-livepeer's.",
    ),
    "OrchestratorSecret",
)


@raises(Unauthorized)
def require_secret(
    services: Services, authorization: Annotated[str | None, Depends(_SECRET)] = None
) -> None:
    """The raw orchestrator secret in `Authorization` (no Bearer prefix, as go-livepeer)."""
    given = (authorization or "").encode()
    if not hmac.compare_digest(given, services.settings.secret.encode()):
        raise Unauthorized("invalid orchestrator secret in Authorization")


SecretChecked = Depends(require_secret)
