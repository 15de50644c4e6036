"""Operator views: health, registered capabilities, redemption progress."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from temporalio.service import RPCError

from tollway.api.orchestrator.deps import Services
from tollway.api.orchestrator.services import redemption_workflow_id

router = APIRouter()


@router.get("/healthz")
async def healthz(services: Services) -> dict[str, Any]:
    return {"status": "ok", "role": "orchestrator", "address": services.address}


@router.get("/v1/orchestrator")
async def orchestrator(services: Services) -> dict[str, Any]:
    """Who this orchestrator is on-chain: stake, cuts, active status, reward and fees."""
    chain = services.chain
    transcoder = await chain.transcoder(services.address)
    return {
        "address": services.address,
        "service_addr": services.settings.service_addr,
        "round": await chain.current_round(),
        "transcoder": transcoder.model_dump(),
        "pending_fees_wei": await chain.pending_fees(services.address),
        "capabilities": services.registry.names(),
    }


@router.get("/v1/capabilities")
async def capabilities(services: Services) -> dict[str, Any]:
    registry = services.registry
    return {
        "capabilities": [
            {
                "name": name,
                "price_wei_per_second": registry.get(name).price_wei_per_second,
                "capacity": registry.get(name).capacity,
                "available_capacity": registry.available(name),
            }
            for name in registry.names()
        ]
    }


@router.get("/v1/redemptions")
async def redemptions(services: Services) -> dict[str, Any]:
    handle = services.temporal.get_workflow_handle(redemption_workflow_id(services.address))
    try:
        status = await handle.query("status")
    except RPCError:
        return {"recipient": services.address, "queued": [], "redeemed": {}, "failed": {}}
    return dict(status)
