"""Capability registration by BYOC workers (reference livepeer-byoc.md 1.2)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from tollway.api.body import parse_json_body, read_body
from tollway.api.orchestrator.deps import SecretChecked, Services
from tollway.byoc.registry import ExternalCapability
from tollway.errors import BadRequest

router = APIRouter(dependencies=[SecretChecked])

REGISTRATION_LIMIT = 64 * 1024


@router.post("/capability/register", response_class=PlainTextResponse)
async def register(request: Request, services: Services) -> str:
    body = await read_body(request, REGISTRATION_LIMIT)
    capability = parse_json_body(ExternalCapability, body)
    capability.price_wei(services.settings.pricing.usd_per_eth)  # a USD price needs a rate
    services.registry.register(capability)
    return "ok"


@router.post("/capability/unregister", response_class=PlainTextResponse)
async def unregister(request: Request, services: Services) -> str:
    name = (await read_body(request, REGISTRATION_LIMIT)).decode(errors="replace").strip()
    if not name:
        raise BadRequest("body must be the capability name", field="name")
    services.registry.unregister(name)
    return "ok"
