"""Builds the gateway FastAPI app; its lifespan connects to Temporal after any fork and runs
the job worker the app hosts, if it is given one, and the relay worker of the live streams
whose client channels it holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.worker import Worker

from tollway.activities.relay import RelayActivities
from tollway.api import metrics, trickle
from tollway.api.console import ConsoleConfig, install_console
from tollway.api.gateway.ratelimit import RateLimits
from tollway.api.gateway.routes import (
    budgets,
    events,
    health,
    jobs,
    keys,
    market,
    process,
    streams,
    tenant_streams,
    tenants,
    usage,
    webhooks,
)
from tollway.api.gateway.services import GatewayServices
from tollway.api.gateway.webhook_events import declare_webhooks
from tollway.api.openapi import api_app
from tollway.config import GatewaySettings
from tollway.market.store import open_market_store
from tollway.store.artifacts import ArtifactStore
from tollway.store.budgets import BudgetStore
from tollway.store.database import Database, open_database
from tollway.store.idempotency import IdempotencyStore
from tollway.store.jobs import JobIndex
from tollway.store.live import LiveOutputs
from tollway.store.tenants import CONFIGURED_SCOPES, TenantStore
from tollway.store.webhooks import WebhookStore
from tollway.streams.trickle import Channels, close_idle_forever
from tollway.temporal import connect, ensure_search_attributes

__all__ = ["HostedWorker", "create_app", "seed_configured_keys"]

HostedWorker = Callable[[Client, Database], AbstractAsyncContextManager[Worker]]
"""Builds a worker for the gateway's task queue on the app's own Temporal client and database
(one engine, one SQLite connection, per process)."""


def create_app(settings: GatewaySettings, hosted_worker: HostedWorker | None = None) -> FastAPI:
    """The gateway API. With `hosted_worker`, the jobs it starts run in this process at once
    (Temporal's eager start needs a worker on the starting client); other workers take over
    any job whose process dies."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        temporal = await connect(
            settings.temporal_address, settings.namespace, settings.temporal_auth
        )
        await ensure_search_attributes(temporal)
        channels = Channels()
        async with AsyncExitStack() as stack:
            database = await asyncio.to_thread(open_database, settings.database)
            stack.push_async_callback(database.close)
            tenants = TenantStore(database)
            await seed_configured_keys(tenants, settings)
            http = await stack.enter_async_context(httpx.AsyncClient())
            relays = RelayActivities(channels, http, settings.trickle_max_segment_bytes)
            app.state.services = GatewayServices(
                settings=settings,
                temporal=temporal,
                artifacts=ArtifactStore(settings.artifacts),
                market=open_market_store(database, settings),
                live=LiveOutputs(settings.artifacts / "live"),
                trickle=channels,
                relays=relays,
                tenants=tenants,
                idempotency=IdempotencyStore(database),
                budgets=BudgetStore(database, settings.usd_per_eth),
                jobs=JobIndex(database),
                rate_limits=RateLimits(
                    settings.rate_limit_storage,
                    settings.rate_limit_create_per_minute,
                    settings.rate_limit_read_per_minute,
                ),
                webhooks=WebhookStore(database),
            )
            workers = [
                Worker(
                    temporal,
                    task_queue=settings.relay_task_queue,
                    activities=relays.all(),
                    # A relay's heartbeat carries where it got to: keep it fresh for a resume.
                    max_heartbeat_throttle_interval=timedelta(seconds=1),
                )
            ]
            if hosted_worker is not None:
                workers.append(await stack.enter_async_context(hosted_worker(temporal, database)))
            for worker in workers:
                running = asyncio.create_task(worker.run())
                stack.push_async_callback(_stopped, worker, running)
            idle = asyncio.create_task(close_idle_forever(channels, settings.trickle_idle_seconds))
            stack.callback(idle.cancel)
            yield

    app = api_app("tollway gateway", lifespan)
    app.include_router(jobs.router)
    app.include_router(process.router)
    app.include_router(streams.router)
    app.include_router(tenant_streams.router)
    app.include_router(keys.router)
    app.include_router(tenants.router)
    app.include_router(budgets.router)
    app.include_router(usage.router)
    app.include_router(events.router)
    app.include_router(webhooks.router)
    declare_webhooks(app)
    app.include_router(trickle.router(None))
    app.include_router(market.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    console = ConsoleConfig(
        role="gateway", namespace=settings.namespace, temporal_ui_url=settings.temporal_ui_url
    )
    install_console(app, "gateway", lambda _: console)
    return app


async def seed_configured_keys(tenants: TenantStore, settings: GatewaySettings) -> None:
    """The keys named in the settings, as keys of their tenants in the database."""
    configured = [("default", digest) for digest in settings.api_key_sha256] + [
        (name, digest)
        for name, tenant in settings.tenants.items()
        for digest in tenant.api_key_sha256
    ]
    for name, digest in configured:
        await tenants.seed_key(name, digest, CONFIGURED_SCOPES)


async def _stopped(worker: Worker, running: asyncio.Task[None]) -> None:
    await worker.shutdown()
    await running
