"""Winning tickets on their way from the ledger to the redemption workflow.

A winner is saved in the ledger when its payment is credited and handed to Temporal by one
task, so a Temporal outage delays redemption but loses no ticket. Until it is redeemed, its
face value counts against its sender's max float; the workflow's last answer is kept for the
times its worker cannot answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import timedelta

from temporalio.client import Client
from temporalio.service import RPCError

from tollway.payments.ledger import Ledger
from tollway.payments.winners import WinningTicket
from tollway.workflows.redemption import RedemptionInput, RedemptionStatus, RedemptionWorkflow

__all__ = ["REDEMPTION_QUERY_TIMEOUT", "WinnerHandOff", "redemption_workflow_id"]

log = logging.getLogger("tollway.orchestrator")

REDEMPTION_QUERY_TIMEOUT = timedelta(seconds=1)


def redemption_workflow_id(recipient: str) -> str:
    return f"redemption-{recipient}"


class WinnerHandOff:
    def __init__(self, temporal: Client, ledger: Ledger, address: str, task_queue: str) -> None:
        self.temporal = temporal
        self.ledger = ledger
        self.address = address
        self.task_queue = task_queue
        self.waiting = asyncio.Event()
        """Set when a payment brought winners to hand off."""
        self._last_waiting: list[str] = []
        """The redemption workflow's queued and pending tickets when it last answered."""

    async def status(self) -> RedemptionStatus | None:
        """The redemption workflow's status, or None when no worker answers within a second
        (a query waits for a worker)."""
        handle = self.temporal.get_workflow_handle(redemption_workflow_id(self.address))
        try:
            return await handle.query(
                RedemptionWorkflow.status, rpc_timeout=REDEMPTION_QUERY_TIMEOUT
            )
        except RPCError:
            return None

    async def pending_face_value(self, sender: str) -> int:
        """Face value of `sender`'s winning tickets not redeemed yet: queued or in flight in the
        redemption workflow, or not yet handed to it. While the orchestrator worker is down
        this answers within a second from the last list the workflow gave."""
        status = await self.status()
        if status is not None:
            self._last_waiting = [*status.queued, *status.pending]
        waiting = self._last_waiting + [h for h, _ in self.ledger.pending_winners()]
        tickets = [WinningTicket.model_validate_json(body) for body in self.ledger.winners(waiting)]
        return sum(t.face_value for t in tickets if t.sender == sender)

    async def hand_off(self) -> int:
        """Signal-with-start the redemption workflow for every winner not yet handed off."""
        sent = 0
        for ticket_hash, body in self.ledger.pending_winners():
            winner = WinningTicket.model_validate(json.loads(body))
            await self.temporal.start_workflow(
                RedemptionWorkflow.run,
                RedemptionInput(recipient=self.address),
                id=redemption_workflow_id(self.address),
                task_queue=self.task_queue,
                start_signal="ticket",
                start_signal_args=[winner],
            )
            self.ledger.mark_handed_off(ticket_hash)
            sent += 1
        return sent

    async def hand_off_forever(self, retry_seconds: float = 2.0) -> None:
        """The one task that hands winners to Temporal: woken by new winners, and retrying
        every few seconds while Temporal is unreachable, so no winning ticket is forgotten."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.waiting.wait(), retry_seconds)
            self.waiting.clear()
            try:
                await self.hand_off()
            except Exception:
                log.exception("winning-ticket hand-off failed; retrying in %s s", retry_seconds)
