"""RedemptionWorkflow: one per orchestrator address; redeems each winning ticket exactly once.

Tickets arrive by signal-with-start from the orchestrator API and are deduplicated by ticket
hash. Up to `batch_size` queued tickets go to one redeem activity, which waits for their params
to expire (so recipientRand is not revealed early), checks `usedTickets` first, reconciles with
the chain after a crash and batches the transaction when several are ready. The workflow
continues as new to keep its history small.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from tollway.activities.heartbeat import HEARTBEAT_TIMEOUT
    from tollway.activities.redemption import RedemptionActivities
    from tollway.payments.winners import RedemptionBatch, TicketResult, WinningTicket

__all__ = ["RedemptionInput", "RedemptionStatus", "RedemptionWorkflow"]

REDEEM_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)
"""A ticket the chain refuses for good comes back as a failed TicketResult, not an error: every
error of the redeem activity is worth retrying until the schedule-to-close timeout."""
KEEP_REDEEMED = 1000


class RedemptionInput(BaseModel):
    recipient: str
    redeemed: dict[str, str] = {}
    failed: dict[str, str] = {}
    queued: list[WinningTicket] = []
    batch_size: int = 50
    tickets_per_run: int = 500
    """Continue-as-new after this many tickets (or sooner when Temporal suggests it)."""


class RedemptionStatus(BaseModel):
    recipient: str
    queued: list[str]
    pending: list[str] = []
    redeemed: dict[str, str]
    failed: dict[str, str]


@workflow.defn(name="RedemptionWorkflow")
class RedemptionWorkflow:
    def __init__(self) -> None:
        self._recipient = ""
        self._queue: list[WinningTicket] = []
        self._redeemed: dict[str, str] = {}
        self._failed: dict[str, str] = {}
        self._pending: list[str] = []

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
            batch = self._queue[: start.batch_size]
            self._pending = [t.ticket_hash for t in batch]
            for result in await self._redeem(batch):
                if result.state == "redeemed":
                    self._redeemed[result.ticket_hash] = result.tx_hash or ""
                elif result.state == "failed":
                    self._failed[result.ticket_hash] = result.reason or "refused"
            finished = set(self._redeemed) | set(self._failed)
            self._queue = [t for t in self._queue if t.ticket_hash not in finished]
            done_this_run += sum(1 for h in self._pending if h in finished)
            self._pending = []
            if (
                done_this_run >= start.tickets_per_run
                or workflow.info().is_continue_as_new_suggested()
            ):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    start.model_copy(
                        update={
                            "redeemed": dict(list(self._redeemed.items())[-KEEP_REDEEMED:]),
                            "failed": dict(list(self._failed.items())[-KEEP_REDEEMED:]),
                            "queued": self._queue,
                        }
                    )
                )

    async def _redeem(self, batch: list[WinningTicket]) -> list[TicketResult]:
        try:
            results: list[TicketResult] = await workflow.execute_activity_method(
                RedemptionActivities.redeem_batch,
                RedemptionBatch(tickets=batch),
                start_to_close_timeout=timedelta(minutes=3),
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                schedule_to_close_timeout=timedelta(hours=6),
                retry_policy=REDEEM_RETRY,
                summary=f"redeem {len(batch)} ticket(s)",
            )
        except ActivityError as err:  # gave up: these tickets are reported, never dropped
            reason = str(err.cause or err)
            return [
                TicketResult(ticket_hash=t.ticket_hash, state="failed", reason=reason)
                for t in batch
            ]
        return results

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
            queued=[t.ticket_hash for t in self._queue if t.ticket_hash not in self._pending],
            pending=list(self._pending),
            redeemed=dict(self._redeemed),
            failed=dict(self._failed),
        )
