"""Gateway worker: JobWorkflow and its discover/pay/dispatch/settle activities."""

from __future__ import annotations

import httpx
from temporalio.worker import Worker

from tollway.activities.discovery import DiscoveryActivities
from tollway.activities.dispatch import DispatchActivities
from tollway.activities.payment import PaymentActivities
from tollway.activities.settlement import SettlementActivities
from tollway.artifacts import ArtifactStore
from tollway.chain.connect import chain_client
from tollway.config import GatewaySettings
from tollway.payments.funds import SenderFunds
from tollway.payments.keys import load_key
from tollway.payments.sender import NonceStore, SenderLimits, TicketSender
from tollway.payments.spend import SpendLedger
from tollway.temporal import connect
from tollway.workers.run import run_until_signalled, serve_metrics
from tollway.workflows.job import JobWorkflow


async def run(settings: GatewaySettings) -> None:
    key, address = load_key(settings.key)
    client = await connect(settings.temporal_address, settings.namespace)
    serve_metrics(settings.worker_metrics_port)  # `tollway up` reads it as "ready"
    artifacts = ArtifactStore(settings.data_dir / "artifacts")
    sender = TicketSender(key, address, NonceStore(settings.data_dir / "nonces.sqlite"))
    spend = SpendLedger(settings.data_dir / "spend.sqlite")
    limits = SenderLimits(
        max_ticket_ev_wei=settings.max_ticket_ev_wei,
        max_total_ev_wei=settings.max_total_ev_wei,
        max_face_value_wei=settings.max_face_value_wei,
    )
    chain = chain_client(settings.chain) if settings.chain else None
    funds = SenderFunds(chain, address, settings.deposit_multiplier) if chain else None
    async with httpx.AsyncClient() as http:
        discovery = DiscoveryActivities(
            http, key, address, settings.orchestrators, settings.token_timeout_seconds
        )
        worker = Worker(
            client,
            task_queue=settings.task_queue,
            workflows=[JobWorkflow],
            activities=[
                discovery.discover,
                PaymentActivities(sender, spend, limits, funds).create_payment,
                DispatchActivities(http, key, address, artifacts).dispatch,
                SettlementActivities(spend).settle,
            ],
        )
        await run_until_signalled(worker)
