"""Operator views: health, registered capabilities, redemption progress."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tollway.api.openapi import problems
from tollway.api.orchestrator.deps import Services
from tollway.errors import ChainError
from tollway.protocol.info import CapabilityOffer, Gpu, OrchestratorInfo, tollway_version

__all__ = [
    "capabilities",
    "healthz",
    "info",
    "orchestrator",
    "redemptions",
    "reported_hardware",
    "router",
]

router = APIRouter()


@router.get("/healthz")
async def healthz(services: Services) -> dict[str, Any]:
    return {"status": "ok", "role": "orchestrator", "address": services.address}


@router.get("/v1/orchestrator", responses=problems(ChainError))
async def orchestrator(services: Services) -> dict[str, Any]:
    """Who this orchestrator is on-chain: stake, cuts, active status, reward and fees."""
    chain = services.chain
    transcoder = await chain.bonding.transcoder(services.address)
    return {
        "address": services.address,
        "service_addr": services.settings.service_addr,
        "round": await chain.rounds.current_round(),
        "transcoder": transcoder.model_dump(),
        "pending_fees_wei": await chain.bonding.pending_fees(services.address),
        "capabilities": services.registry.names(),
    }


@router.get("/v1/info")
async def info(services: Services) -> OrchestratorInfo:
    """What gateways rank this orchestrator by: capabilities with prices and free capacity,
    hardware, version and region (stake they read from the chain, not from here)."""
    registry = services.registry
    settings = services.settings
    return OrchestratorInfo(
        address=services.address,
        service_addr=settings.service_addr,
        version=tollway_version(),
        region=settings.region,
        hardware=reported_hardware(services) or settings.hardware,
        capabilities=[
            CapabilityOffer(
                name=name,
                description=registry.get(name).description,
                price_wei=services.pricing.book.price_wei(
                    registry.get(name), None, registry.load(name)
                ),
                unit=registry.get(name).unit,
                capacity=registry.get(name).capacity,
                available=registry.available(name),
            )
            for name in registry.names()
        ],
    )


def reported_hardware(services: Services) -> list[Gpu]:
    """Every GPU the live GPU workers reported, in worker order."""
    return [
        Gpu(model=gpu.name, vram_bytes=gpu.memory_total_bytes)
        for worker in services.workers.live()
        for gpu in worker.inventory.gpus
    ]


@router.get("/v1/capabilities")
async def capabilities(services: Services) -> dict[str, Any]:
    registry = services.registry
    return {
        "capabilities": [
            {
                "name": name,
                "price_wei": services.pricing.book.price_wei(registry.get(name), None, 0.0),
                "unit": registry.get(name).unit,
                "capacity": registry.get(name).capacity,
                "available_capacity": registry.available(name),
                "replicas": len(registry.replicas(name)),
            }
            for name in registry.names()
        ]
    }


@router.get("/v1/redemptions")
async def redemptions(services: Services) -> dict[str, Any]:
    status = await services.winners.status()
    if status is None:
        return {"recipient": services.address, "queued": [], "redeemed": {}, "failed": {}}
    return status.model_dump()
