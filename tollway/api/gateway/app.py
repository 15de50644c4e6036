"""Builds the gateway FastAPI app; its lifespan connects to Temporal after any fork and runs
the job worker the app hosts, if it is given one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client
from temporalio.worker import Worker

from tollway.api import metrics
from tollway.api.errors import install_error_handlers
from tollway.api.gateway.routes import health, jobs, market, process
from tollway.api.gateway.services import GatewayServices
from tollway.config import GatewaySettings
from tollway.market.store import open_market_store
from tollway.store.artifacts import ArtifactStore
from tollway.store.live import LiveOutputs
from tollway.temporal import connect

__all__ = ["HostedWorker", "create_app"]

HostedWorker = Callable[[Client], AbstractAsyncContextManager[Worker]]
"""Builds a worker for the gateway's task queue on the app's own Temporal client."""


def create_app(settings: GatewaySettings, hosted_worker: HostedWorker | None = None) -> FastAPI:
    """The gateway API. With `hosted_worker`, the jobs it starts run in this process at once
    (Temporal's eager start needs a worker on the starting client); other workers take over
    any job whose process dies."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        temporal = await connect(settings.temporal_address, settings.namespace)
        app.state.services = GatewayServices(
            settings=settings,
            temporal=temporal,
            artifacts=ArtifactStore(settings.data_dir / "artifacts"),
            market=open_market_store(settings),
            live=LiveOutputs(settings.data_dir / "artifacts" / "live"),
        )
        async with AsyncExitStack() as stack:
            if hosted_worker is not None:
                worker = await stack.enter_async_context(hosted_worker(temporal))
                running = asyncio.create_task(worker.run())
                stack.push_async_callback(_stopped, worker, running)
            yield

    app = FastAPI(title="tollway gateway", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(jobs.router)
    app.include_router(process.router)
    app.include_router(market.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    return app


async def _stopped(worker: Worker, running: asyncio.Task[None]) -> None:
    await worker.shutdown()
    await running
