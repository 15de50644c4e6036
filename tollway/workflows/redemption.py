"""RedemptionWorkflow: one per orchestrator address; redeems each winning ticket exactly once.

Tickets arrive by signal-with-start from the orchestrator API and are deduplicated by ticket
hash. The redeem activity waits for the ticket's params to expire (so recipientRand is not
revealed early), checks `usedTickets` first and reconciles with the chain after a crash.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from tollway.payments.models import Redeemed, WinningTicket

REDEEM_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["RedemptionRefused"],
)
KEEP_REDEEMED = 1000


class RedemptionInput(BaseModel):
    recipient: str
    redeemed: dict[str, str] = {}
    failed: dict[str, str] = {}
    queued: list[WinningTicket] = []
    tickets_per_run: int = 500
    """Continue-as-new after this many tickets (or sooner when Temporal suggests it)."""


class RedemptionStatus(BaseModel):
    recipient: str
    queued: list[str]
    pending: str | None = None
    redeemed: dict[str, str]
    failed: dict[str, str]


@workflow.defn(name="RedemptionWorkflow")
class RedemptionWorkflow:
    def __init__(self) -> None:
        self._recipient = ""
        self._queue: list[WinningTicket] = []
        self._redeemed: dict[str, str] = {}
        self._failed: dict[str, str] = {}
        self._pending: str | None = None

    @workflow.run
    async def run(self, start: RedemptionInput) -> None:
        self._recipient = start.recipient
        self._redeemed.update(start.redeemed)
        self._failed.update(start.failed)
        for ticket in start.queued:
            self.ticket(ticket)
        done_this_run = 0
        while True:
            await workflow.wait_condition(lambda: bool(self._queue))
            ticket = self._queue[0]
            self._pending = ticket.ticket_hash
            try:
                result = await workflow.execute_activity(
                    "redeem_ticket",
                    ticket,
                    result_type=Redeemed,
                    start_to_close_timeout=timedelta(minutes=2),
                    schedule_to_close_timeout=timedelta(hours=6),
                    retry_policy=REDEEM_RETRY,
                    summary=f"redeem {ticket.ticket_hash[:10]} nonce {ticket.sender_nonce}",
                )
                self._redeemed[ticket.ticket_hash] = result.tx_hash
            except ActivityError as err:
                self._failed[ticket.ticket_hash] = str(err.cause or err)
            self._queue.pop(0)
            self._pending = None
            done_this_run += 1
            if (
                done_this_run >= start.tickets_per_run
                or workflow.info().is_continue_as_new_suggested()
            ):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    RedemptionInput(
                        recipient=self._recipient,
                        redeemed=dict(list(self._redeemed.items())[-KEEP_REDEEMED:]),
                        failed=dict(list(self._failed.items())[-KEEP_REDEEMED:]),
                        queued=self._queue,
                        tickets_per_run=start.tickets_per_run,
                    )
                )

    @workflow.signal
    def ticket(self, ticket: WinningTicket) -> None:
        known = ticket.ticket_hash
        if known in self._redeemed or known in self._failed:
            return
        if any(t.ticket_hash == known for t in self._queue):
            return
        self._queue.append(ticket)

    @workflow.query
    def status(self) -> RedemptionStatus:
        return RedemptionStatus(
            recipient=self._recipient,
            queued=[t.ticket_hash for t in self._queue if t.ticket_hash != self._pending],
            pending=self._pending,
            redeemed=dict(self._redeemed),
            failed=dict(self._failed),
        )
