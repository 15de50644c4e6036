"""Everything an orchestrator API request needs, built once in the app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx
from temporalio.client import Client

from tollway.byoc.registry import CapabilityRegistry
from tollway.config import OrchestratorSettings
from tollway.payments.ledger import Ledger
from tollway.payments.models import WinningTicket
from tollway.payments.recipient import TicketRecipient

log = logging.getLogger("tollway.orchestrator")


def redemption_workflow_id(recipient: str) -> str:
    return f"redemption-{recipient}"


@dataclass
class OrchestratorServices:
    settings: OrchestratorSettings
    address: str
    ledger: Ledger
    recipient: TicketRecipient
    registry: CapabilityRegistry
    temporal: Client
    http: httpx.AsyncClient
    background: set[asyncio.Task[None]] = field(default_factory=set)

    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` without awaiting it, holding a reference until it finishes."""
        task = asyncio.get_running_loop().create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def hand_off_winners(self) -> int:
        """Signal-with-start the redemption workflow for every winner not yet handed off."""
        sent = 0
        for ticket_hash, body in self.ledger.pending_winners():
            winner = WinningTicket.model_validate(json.loads(body))
            await self.temporal.start_workflow(
                "RedemptionWorkflow",
                {"recipient": self.address},
                id=redemption_workflow_id(self.address),
                task_queue=self.settings.task_queue,
                start_signal="ticket",
                start_signal_args=[winner],
            )
            self.ledger.mark_handed_off(ticket_hash)
            sent += 1
        return sent

    async def hand_off_forever(self, interval: float = 2.0) -> None:
        """Retries hand-offs that failed (Temporal down), so no winning ticket is forgotten."""
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):
                await self.hand_off_winners()

    async def hand_off_soon(self) -> None:
        try:
            await self.hand_off_winners()
        except Exception:
            log.exception("winning-ticket hand-off failed; it will be retried")
