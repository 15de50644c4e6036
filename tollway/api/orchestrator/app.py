"""Builds the orchestrator FastAPI app; its lifespan opens the ledger, chain and Temporal."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request

from tollway.api import metrics, trickle
from tollway.api.console import ConsoleConfig, install_console
from tollway.api.openapi import api_app
from tollway.api.orchestrator.bodies import BodyFiles
from tollway.api.orchestrator.credit import CreditHolds
from tollway.api.orchestrator.deps import SecretChecked
from tollway.api.orchestrator.pricing import Pricing
from tollway.api.orchestrator.routes import admin, capability, credit, process, stream
from tollway.api.orchestrator.services import OrchestratorServices, replica_waker
from tollway.api.orchestrator.serving import JobServer
from tollway.api.orchestrator.streams import StreamServer
from tollway.api.orchestrator.winners import WinnerHandOff, redemption_workflow_id
from tollway.api.orchestrator.workers import GpuWorkerRoster
from tollway.byoc.destinations import CapabilityDestinations
from tollway.byoc.registrations import RegistrationStore
from tollway.byoc.registry import CapabilityRegistry
from tollway.chain.connect import chain_client
from tollway.config import OrchestratorSettings
from tollway.payments.keys import load_key
from tollway.payments.ledger import Ledger
from tollway.payments.pricing import PriceBook
from tollway.payments.recipient import TicketPolicy, TicketRecipient
from tollway.streams.trickle import Channels, close_idle_forever
from tollway.temporal import connect

__all__ = ["create_app"]


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
        temporal = await connect(
            settings.temporal_address, settings.namespace, settings.temporal_auth
        )
        winners = WinnerHandOff(temporal, ledger, address, settings.task_queue)
        recipient = TicketRecipient(address, ledger, chain, policy, winners.pending_face_value)
        registrations = RegistrationStore(settings.data_dir / "registry.sqlite")
        registry = CapabilityRegistry(
            registrations,
            settings.replica_quarantine_seconds,
            wake=replica_waker(temporal),
            cold_wait_seconds=settings.cold_start_wait_seconds,
        )
        pricing = Pricing(PriceBook(settings.pricing), registry, recipient, ledger, address, key)
        async with httpx.AsyncClient() as http:
            files = BodyFiles(settings.data_dir / "bodies", settings.job_answer_ttl_seconds + 60)
            jobs = JobServer(
                settings,
                registry,
                pricing,
                CreditHolds(ledger),
                recipient,
                ledger,
                winners,
                http,
                files,
            )
            trickle_channels = Channels()
            app.state.services = OrchestratorServices(
                settings=settings,
                address=address,
                ledger=ledger,
                recipient=recipient,
                registry=registry,
                chain=chain,
                pricing=pricing,
                winners=winners,
                workers=GpuWorkerRoster(settings.worker_missed_reports),
                jobs=jobs,
                destinations=CapabilityDestinations.of(
                    [
                        settings.chain.rpc_url,
                        *settings.chain.fallback_rpc_urls,
                        settings.service_addr,
                        f"http://{settings.host}:{settings.port}",
                        f"http://{settings.temporal_address}",
                    ],
                    settings.capability_hosts,
                ),
                trickle=trickle_channels,
                streams=StreamServer(
                    settings, registry, pricing, ledger, jobs, trickle_channels, http
                ),
            )
            loops = [
                asyncio.create_task(winners.hand_off_forever()),
                asyncio.create_task(
                    close_idle_forever(app.state.services.trickle, settings.trickle_idle_seconds)
                ),
            ]
            try:
                yield
            finally:
                await app.state.services.streams.close()
                for loop in loops:
                    loop.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await loop
                ledger.close()
                registrations.close()
                await chain.aclose()

    app = api_app("tollway orchestrator", lifespan)
    app.include_router(capability.router)
    app.include_router(process.router)
    app.include_router(stream.router)
    app.include_router(trickle.router([SecretChecked]))
    app.include_router(admin.router)
    app.include_router(credit.router)
    app.include_router(metrics.router)

    def console(request: Request) -> ConsoleConfig:
        services: OrchestratorServices = request.app.state.services
        return ConsoleConfig(
            role="orchestrator",
            namespace=settings.namespace,
            temporal_ui_url=settings.temporal_ui_url,
            workflows={"redemption": redemption_workflow_id(services.address)},
        )

    install_console(app, "orchestrator", console)
    return app
