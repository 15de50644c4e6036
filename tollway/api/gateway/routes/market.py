"""The market as this gateway sees it: `/v1/marketplace` (tollway's view) and
`/getNetworkCapabilities` (go-livepeer's shape)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter

from tollway.api.gateway.deps import Services
from tollway.market.store import KnownOrchestrator, MarketView
from tollway.protocol.info import CapabilityOffer
from tollway.protocol.price import WEI_PER_ETH

__all__ = ["WEI_PER_ETH", "marketplace", "network_capabilities", "router"]

router = APIRouter()

BYOC_CAPABILITY_ID = 37


def _usd(price_wei: int, usd_per_eth: float | None) -> float | None:
    return None if usd_per_eth is None else price_wei / WEI_PER_ETH * usd_per_eth


def _offer_view(
    known: KnownOrchestrator, offer: CapabilityOffer, view: MarketView, usd_per_eth: float | None
) -> dict[str, Any]:
    info = known.info
    assert info is not None
    performance = view.performance.get((known.url, offer.name))
    breaker = view.breakers.get(known.url)
    now = time.time()
    return {
        "orchestrator": known.url,
        "address": info.address,
        "price_wei": str(offer.price_wei),
        "unit": offer.unit,
        "price_usd": _usd(offer.price_wei, usd_per_eth),
        "capacity": offer.capacity,
        "available": offer.available,
        "latency_ms": None if performance is None else performance.latency_ms,
        "success_rate": None if performance is None else round(performance.success, 4),
        "jobs_observed": 0 if performance is None else performance.jobs,
        "stake_wei": None if known.stake is None else str(known.stake),
        "suspended_for_seconds": (
            round(breaker.open_until - now, 1) if breaker and breaker.is_open(now) else 0
        ),
        "region": info.region,
        "version": info.version,
        "hardware": [gpu.model_dump() for gpu in info.hardware],
    }


@router.get("/v1/marketplace")
async def marketplace(services: Services) -> dict[str, Any]:
    """Capabilities on offer, who offers each, at what price, and how they have served us."""
    view = await services.market.view()
    usd_per_eth = services.settings.usd_per_eth
    capabilities: dict[str, list[dict[str, Any]]] = {}
    for known in view.orchestrators:
        for offer in known.info.capabilities if known.info else []:
            capabilities.setdefault(offer.name, []).append(
                _offer_view(known, offer, view, usd_per_eth)
            )
    return {
        "snapshot_at": view.snapshot_at or None,
        "usd_per_eth": usd_per_eth,
        "orchestrators": [
            {
                "url": known.url,
                "sources": list(known.sources),
                "address": known.info.address if known.info else None,
                "info_error": known.info_error or None,
            }
            for known in view.orchestrators
        ],
        "capabilities": {
            name: {"offers": sorted(offers, key=lambda o: int(o["price_wei"]))}
            for name, offers in sorted(capabilities.items())
        },
    }


@router.get("/getNetworkCapabilities")
async def network_capabilities(services: Services) -> dict[str, Any]:
    """go-livepeer's gateway view: every BYOC capability is capability 37 with the capability's
    name as its constraint, priced per second as pricePerUnit / pixelsPerUnit."""
    orchestrators = []
    for known in (await services.market.view()).orchestrators:
        info = known.info
        if info is None:
            continue
        orchestrators.append(
            {
                "address": info.address,
                "local_address": info.address,
                "orch_uri": known.url,
                "capabilities": {
                    "version": info.version,
                    "capacities": {
                        str(BYOC_CAPABILITY_ID): sum(c.capacity for c in info.capabilities)
                    },
                    "constraints": {
                        "PerCapability": {
                            str(BYOC_CAPABILITY_ID): {
                                "models": {
                                    c.name: {
                                        "warm": True,
                                        "capacity": c.capacity,
                                        "capacityInUse": c.capacity - c.available,
                                        "runnerVersion": info.version,
                                    }
                                    for c in info.capabilities
                                }
                            }
                        }
                    },
                },
                "price_info": None,
                "capabilities_prices": [
                    {
                        "pricePerUnit": c.price_wei,
                        "pixelsPerUnit": 1,
                        "capability": BYOC_CAPABILITY_ID,
                        "constraint": c.name,
                    }
                    for c in info.capabilities
                    if c.unit == "second"
                ],
                "hardware": [
                    {"pipeline": "byoc", "gpu_info": {str(i): g.model_dump()}}
                    for i, g in enumerate(info.hardware)
                ],
            }
        )
    return {"capabilities_names": {str(BYOC_CAPABILITY_ID): "byoc"}, "orchestrators": orchestrators}
