"""Builds the orchestrator FastAPI app; its lifespan opens the ledger, chain and Temporal."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from tollway.api import metrics
from tollway.api.errors import install_error_handlers
from tollway.api.orchestrator.routes import admin, capability, process
from tollway.api.orchestrator.services import (
    OrchestratorServices,
    pending_face_value,
    replica_waker,
)
from tollway.byoc.registry import CapabilityRegistry
from tollway.chain.connect import chain_client
from tollway.config import OrchestratorSettings
from tollway.payments.keys import load_key
from tollway.payments.ledger import Ledger
from tollway.payments.pricing import PriceBook
from tollway.payments.recipient import TicketPolicy, TicketRecipient
from tollway.temporal import connect


def create_app(settings: OrchestratorSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        key, address = load_key(settings.key)
        ledger = Ledger(settings.data_dir / "ledger.sqlite")
        chain = chain_client(settings.chain)
        policy = TicketPolicy(
            ev_wei=settings.ticket_ev_wei,
            face_value_wei=settings.ticket_face_value_wei,
            redeem_gas=settings.redeem_gas,
            tx_cost_multiplier=settings.tx_cost_multiplier,
            ev_multiplier=settings.ev_multiplier,
            max_face_value_wei=settings.max_face_value_wei,
            params_expiration_blocks=settings.params_expiration_blocks,
        )
        temporal = await connect(settings.temporal_address, settings.namespace)
        pending = functools.partial(pending_face_value, temporal, ledger, address)
        async with httpx.AsyncClient() as http:
            services = OrchestratorServices(
                settings=settings,
                address=address,
                ledger=ledger,
                recipient=TicketRecipient(address, ledger, chain, policy, pending),
                chain=chain,
                registry=CapabilityRegistry(
                    ledger,
                    settings.replica_quarantine_seconds,
                    wake=replica_waker(temporal),
                    cold_wait_seconds=settings.cold_start_wait_seconds,
                ),
                temporal=temporal,
                http=http,
                prices=PriceBook(settings.pricing),
                private_key=key,
            )
            app.state.services = services
            retry_loop = asyncio.create_task(services.hand_off_forever())
            try:
                yield
            finally:
                retry_loop.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await retry_loop
                ledger.close()
                await chain.aclose()

    app = FastAPI(title="tollway orchestrator", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(capability.router)
    app.include_router(process.router)
    app.include_router(admin.router)
    app.include_router(metrics.router)
    return app
