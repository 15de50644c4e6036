"""Gateway worker: JobWorkflow and its discover/pay/dispatch/settle activities, StreamWorkflow
and its start/stop steps, the NetworkSnapshotWorkflow that keeps the market view fresh
(started here if not running), and WebhookDeliveryWorkflow, started here for each delivery the
outbox gains. A stream's relay runs in the gateway API holding its channels."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

from tollway.activities.discovery import DiscoveryActivities
from tollway.activities.dispatch import DispatchActivities
from tollway.activities.payment import PaymentActivities
from tollway.activities.records import JobRecordActivities
from tollway.activities.settlement import SettlementActivities
from tollway.activities.streams import StreamActivities
from tollway.activities.webhooks import WebhookActivities
from tollway.chain.client import ChainClient
from tollway.chain.connect import chain_client
from tollway.config import GatewaySettings
from tollway.market.snapshot import NetworkRefresher
from tollway.market.sources import ChainSource, Source, StaticSource, WebhookSource
from tollway.market.store import open_market_store
from tollway.market.tokens import RecentTokens
from tollway.payments.funds import SenderFunds
from tollway.payments.keys import load_key
from tollway.payments.sender import SenderLimits, TicketSender
from tollway.payments.spend import SpendLedger
from tollway.store.artifacts import ArtifactStore
from tollway.store.budgets import BudgetStore
from tollway.store.database import Database, open_database
from tollway.store.jobs import JobIndex
from tollway.store.live import LiveOutputs
from tollway.store.nonces import SharedNonces
from tollway.store.retention import remove_expired_forever
from tollway.store.webhooks import WebhookStore
from tollway.temporal import connect, ensure_search_attributes
from tollway.webhooks.sender import WebhookSender
from tollway.workers.run import run_until_signalled, serve_metrics
from tollway.workflows.job import JobWorkflow
from tollway.workflows.network import (
    NETWORK_SNAPSHOT_WORKFLOW_ID,
    NetworkSnapshotInput,
    NetworkSnapshotWorkflow,
)
from tollway.workflows.stream import StreamWorkflow
from tollway.workflows.webhook import WebhookDeliveryWorkflow
from tollway.workflows.webhook_outbox import dispatch_forever

__all__ = ["discovery_sources", "job_worker", "run", "start_network_snapshot"]


def discovery_sources(
    settings: GatewaySettings, http: httpx.AsyncClient, chain: ChainClient | None
) -> list[Source]:
    sources: list[Source] = [StaticSource(settings.orchestrators)]
    if settings.orchestrator_webhook_url:
        sources.append(WebhookSource(http, settings.orchestrator_webhook_url))
    if settings.discover_from_chain:
        if chain is None:
            raise ValueError("discover_from_chain needs the gateway's `chain` settings")
        sources.append(ChainSource(chain))
    return sources


async def start_network_snapshot(client: Client, settings: GatewaySettings) -> None:
    await client.start_workflow(
        NetworkSnapshotWorkflow.run,
        NetworkSnapshotInput(interval_seconds=settings.network_refresh_seconds),
        id=NETWORK_SNAPSHOT_WORKFLOW_ID,
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def run(settings: GatewaySettings) -> None:
    client = await connect(settings.temporal_address, settings.namespace, settings.temporal_auth)
    await ensure_search_attributes(client)
    serve_metrics(
        settings.worker_metrics_port, settings.worker_metrics_host
    )  # `tollway up` reads it as "ready"
    database = await asyncio.to_thread(open_database, settings.database)
    async with (
        database,
        job_worker(settings, client, database) as worker,
        _removing_expired_data(settings, database),
        _dispatching_webhooks(settings, client, database),
    ):
        await start_network_snapshot(client, settings)
        await run_until_signalled(worker)


@asynccontextmanager
async def _removing_expired_data(
    settings: GatewaySettings, database: Database
) -> AsyncIterator[None]:
    """Finished jobs' inputs and outputs, and old webhook log entries, removed as they expire,
    while the worker runs."""
    artifacts = ArtifactStore(settings.artifacts)
    sweeper = asyncio.create_task(
        remove_expired_forever(
            JobIndex(database),
            artifacts,
            LiveOutputs(artifacts.root / "live"),
            settings.retention_sweep_seconds,
            WebhookStore(database),
            settings.webhook_log_retention_seconds,
        )
    )
    try:
        yield
    finally:
        sweeper.cancel()


@asynccontextmanager
async def _dispatching_webhooks(
    settings: GatewaySettings, client: Client, database: Database
) -> AsyncIterator[None]:
    """A delivery workflow started for each webhook delivery the outbox gains, while the
    worker runs."""
    dispatcher = asyncio.create_task(
        dispatch_forever(
            WebhookStore(database),
            client,
            settings.task_queue,
            settings.webhook_retry_seconds,
            settings.webhook_dispatch_seconds,
        )
    )
    try:
        yield
    finally:
        dispatcher.cancel()


@asynccontextmanager
async def job_worker(
    settings: GatewaySettings, client: Client, database: Database
) -> AsyncIterator[Worker]:
    """A worker for the gateway's task queue (not yet running): JobWorkflow and its
    discover/pay/dispatch/settle activities, and the NetworkSnapshotWorkflow. The gateway API
    hosts one too, on its own client and database, so that the jobs it starts run at once in
    its process (eager start) rather than wait for a worker's poll. `database` is the
    process's own, which the caller opens and closes."""
    key, address = load_key(settings.key)
    artifacts = ArtifactStore(settings.artifacts)
    sender = TicketSender(key, address)
    spend = SpendLedger(settings.data_dir / "spend.sqlite")
    limits = SenderLimits(
        max_ticket_ev_wei=settings.max_ticket_ev_wei,
        max_total_ev_wei=settings.max_total_ev_wei,
        max_face_value_wei=settings.max_face_value_wei,
    )
    chain = chain_client(settings.chain) if settings.chain else None
    funds = SenderFunds(chain, address, settings.deposit_multiplier) if chain else None
    tokens = RecentTokens(settings.token_reuse_seconds)
    budgets = BudgetStore(database, settings.usd_per_eth)
    index = JobIndex(database)
    market = open_market_store(database, settings)
    async with httpx.AsyncClient() as http:
        refresher = NetworkRefresher(
            http, market, discovery_sources(settings, http, chain), settings.token_timeout_seconds
        )
        discovery = DiscoveryActivities(
            http,
            key,
            address,
            market,
            refresher,
            settings.token_timeout_seconds,
            fanout=settings.token_fanout,
            min_version=settings.min_orchestrator_version,
            require_quotes=settings.require_signed_quotes,
            tokens=tokens,
        )
        yield Worker(
            client,
            task_queue=settings.task_queue,
            workflows=[
                JobWorkflow,
                NetworkSnapshotWorkflow,
                StreamWorkflow,
                WebhookDeliveryWorkflow,
            ],
            activities=[
                discovery.discover,
                discovery.refresh_network,
                PaymentActivities(
                    sender, SharedNonces(database), spend, limits, funds
                ).create_payment,
                *DispatchActivities(
                    http,
                    key,
                    address,
                    artifacts,
                    market,
                    spend,
                    LiveOutputs(artifacts.root / "live"),
                    tokens,
                    index,
                ).all(),
                SettlementActivities(spend).settle,
                JobRecordActivities(
                    index,
                    budgets,
                    timedelta(seconds=settings.output_retention_seconds),
                ).job_ended,
                *StreamActivities(http, key, address, spend).all(),
                WebhookActivities(
                    WebhookStore(database),
                    WebhookSender(
                        http,
                        allow_private=settings.webhook_allow_private_targets,
                        timeout_seconds=settings.webhook_timeout_seconds,
                    ),
                ).deliver,
            ],
        )
