"""Everything an orchestrator API request needs, built once in the app's lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.service import RPCError

from tollway.api.orchestrator.pricing import Pricing
from tollway.api.orchestrator.serving import JobServer
from tollway.api.orchestrator.streams import StreamServer
from tollway.api.orchestrator.winners import WinnerHandOff
from tollway.api.orchestrator.workers import GpuWorkerRoster
from tollway.byoc.destinations import CapabilityDestinations
from tollway.byoc.registry import CapabilityRegistry
from tollway.chain.client import ChainClient
from tollway.config import OrchestratorSettings
from tollway.payments.ledger import Ledger
from tollway.payments.recipient import TicketRecipient
from tollway.streams.trickle import Channels
from tollway.workflows.container import ContainerWorkflow

__all__ = ["OrchestratorServices", "replica_waker"]

log = logging.getLogger("tollway.orchestrator")


def replica_waker(temporal: Client) -> Callable[[str, str], None]:
    """The registry's `wake` hook: signal the cold replica's ContainerWorkflow (its replica name
    is its workflow id) to start its container. Fire and forget: the request waits for the
    replica to register, and a lost signal is sent again on a later request."""
    pending: set[asyncio.Task[None]] = set()

    async def signal(name: str, replica: str) -> None:
        log.info("waking cold replica %s of %s", replica, name)
        try:
            handle = temporal.get_workflow_handle(replica)
            await handle.signal(ContainerWorkflow.wake)
        except RPCError as exc:
            log.warning("cannot wake replica %s of %s: %s", replica, name, exc)

    def wake(name: str, replica: str) -> None:
        task = asyncio.get_running_loop().create_task(signal(name, replica))
        pending.add(task)
        task.add_done_callback(pending.discard)

    return wake


@dataclass
class OrchestratorServices:
    settings: OrchestratorSettings
    address: str
    ledger: Ledger
    recipient: TicketRecipient
    registry: CapabilityRegistry
    chain: ChainClient
    pricing: Pricing
    winners: WinnerHandOff
    workers: GpuWorkerRoster
    jobs: JobServer
    destinations: CapabilityDestinations
    trickle: Channels
    streams: StreamServer
