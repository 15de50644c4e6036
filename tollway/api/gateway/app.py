"""Builds the gateway FastAPI app; its lifespan connects to Temporal after any fork."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tollway.api import metrics
from tollway.api.errors import install_error_handlers
from tollway.api.gateway.routes import health, jobs, market, process
from tollway.api.gateway.services import GatewayServices
from tollway.config import GatewaySettings
from tollway.market.store import open_market_store
from tollway.store.artifacts import ArtifactStore
from tollway.store.live import LiveOutputs
from tollway.temporal import connect

__all__ = ["create_app"]


def create_app(settings: GatewaySettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = GatewayServices(
            settings=settings,
            temporal=await connect(settings.temporal_address, settings.namespace),
            artifacts=ArtifactStore(settings.data_dir / "artifacts"),
            market=open_market_store(settings),
            live=LiveOutputs(settings.data_dir / "artifacts" / "live"),
        )
        yield

    app = FastAPI(title="tollway gateway", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(jobs.router)
    app.include_router(process.router)
    app.include_router(market.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    return app
