"""Orchestrator worker: redemption, reward (on a schedule) and container workflows."""

from __future__ import annotations

from datetime import timedelta

import httpx
from temporalio.worker import Worker

from tollway.activities.redemption import RedemptionActivities
from tollway.activities.registration import RegistrationActivities
from tollway.activities.reward import RewardActivities
from tollway.chain.connect import chain_client
from tollway.config import OrchestratorSettings
from tollway.payments.keys import load_key
from tollway.temporal import connect
from tollway.workers.run import run_until_signalled, serve_metrics
from tollway.workers.schedules import ensure_reward_schedule
from tollway.workflows.container import ContainerWorkflow
from tollway.workflows.fleet import FleetWorkflow
from tollway.workflows.redemption import RedemptionWorkflow
from tollway.workflows.reward import RewardWorkflow, RoundRewardWorkflow

__all__ = ["run"]


async def run(settings: OrchestratorSettings) -> None:
    key, address = load_key(settings.key)
    client = await connect(settings.temporal_address, settings.namespace, settings.temporal_auth)
    serve_metrics(
        settings.worker_metrics_port, settings.worker_metrics_host
    )  # `tollway up` reads it as "ready"
    # A receipt wait shorter than the activity's start-to-close timeout, so a slow chain
    # fails the attempt cleanly and the retry reconciles with usedTickets.
    chain = chain_client(settings.chain, receipt_timeout=60)
    async with chain, httpx.AsyncClient() as http:
        registration = RegistrationActivities(
            http, f"http://{settings.host}:{settings.port}", settings.secret
        )
        rewards = RewardActivities(chain, key)
        await ensure_reward_schedule(
            client,
            address,
            settings.task_queue,
            timedelta(seconds=settings.reward_every_seconds),
            settings.initialize_rounds,
        )
        worker = Worker(
            client,
            task_queue=settings.task_queue,
            workflows=[
                RedemptionWorkflow,
                ContainerWorkflow,
                FleetWorkflow,
                RewardWorkflow,
                RoundRewardWorkflow,
            ],
            activities=[
                RedemptionActivities(chain, key).redeem_batch,
                rewards.round_status,
                rewards.initialize_round,
                rewards.call_reward,
                registration.register,
                registration.unregister,
                registration.drain,
                registration.gpu_workers,
                registration.worker_listing,
                registration.load,
            ],
        )
        await run_until_signalled(worker)
