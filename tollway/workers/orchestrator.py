"""Orchestrator worker: redemption and container workflows, redemption and registration."""

from __future__ import annotations

import httpx
from temporalio.worker import Worker

from tollway.activities.redemption import RedemptionActivities
from tollway.activities.registration import RegistrationActivities
from tollway.chain.connect import chain_client
from tollway.config import OrchestratorSettings
from tollway.payments.keys import load_key
from tollway.temporal import connect
from tollway.workers.run import run_until_signalled, serve_metrics
from tollway.workflows.container import ContainerWorkflow
from tollway.workflows.redemption import RedemptionWorkflow


async def run(settings: OrchestratorSettings) -> None:
    key, _ = load_key(settings.key)
    client = await connect(settings.temporal_address, settings.namespace)
    serve_metrics(settings.worker_metrics_port)  # `tollway up` reads it as "ready"
    # A receipt wait shorter than the activity's start-to-close timeout, so a slow chain
    # fails the attempt cleanly and the retry reconciles with usedTickets.
    chain = chain_client(settings.chain, receipt_timeout=60)
    async with chain, httpx.AsyncClient() as http:
        registration = RegistrationActivities(
            http, f"http://{settings.host}:{settings.port}", settings.secret
        )
        worker = Worker(
            client,
            task_queue=settings.task_queue,
            workflows=[RedemptionWorkflow, ContainerWorkflow],
            activities=[
                RedemptionActivities(chain, key).redeem,
                registration.register,
                registration.unregister,
            ],
        )
        await run_until_signalled(worker)
