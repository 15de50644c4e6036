"""RedemptionWorkflow: each winning ticket redeemed once, however often it is signalled."""

from __future__ import annotations

import asyncio
import uuid

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tollway.payments.winners import RedemptionBatch, TicketResult, WinningTicket
from tollway.workflows.redemption import RedemptionInput, RedemptionStatus, RedemptionWorkflow


def winner(nonce: int) -> WinningTicket:
    return WinningTicket(
        ticket_hash=f"0x{nonce:064x}",
        recipient="0x" + "11" * 20,
        sender="0x" + "22" * 20,
        face_value=1000,
        win_prob=2**256 - 1,
        sender_nonce=nonce,
        recipient_rand_hash="0x" + "33" * 32,
        creation_round=1,
        creation_round_block_hash="0x" + "44" * 32,
        sig="0x" + "55" * 65,
        recipient_rand=7,
        params_expiration_block=10,
    )


class StandInChain:
    """Stand-in redeem_batch: nonce 3 never wins; the first batch holding nonce 2 meets a
    transient chain fault (so the whole batch is retried); the rest redeem."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.redeemed: list[int] = []

    @activity.defn(name="redeem_batch")
    async def redeem(self, batch: RedemptionBatch) -> list[TicketResult]:
        nonces = [t.sender_nonce for t in batch.tickets]
        self.batches.append(nonces)
        if 2 in nonces and sum(2 in b for b in self.batches) == 1:
            raise ApplicationError("rpc down for a moment")  # retried
        results = []
        for ticket in batch.tickets:
            if ticket.sender_nonce == 3:
                results.append(
                    TicketResult(
                        ticket_hash=ticket.ticket_hash, state="failed", reason="did not win"
                    )
                )
            else:
                self.redeemed.append(ticket.sender_nonce)
                results.append(
                    TicketResult(
                        ticket_hash=ticket.ticket_hash,
                        state="redeemed",
                        tx_hash=f"0xtx{ticket.sender_nonce}",
                    )
                )
        return results


async def test_each_ticket_is_redeemed_once(workflow_env: WorkflowEnvironment) -> None:
    chain = StandInChain()
    queue = f"redeem-{uuid.uuid4()}"
    workflow_id = f"redemption-{uuid.uuid4()}"
    async with Worker(
        workflow_env.client,
        task_queue=queue,
        workflows=[RedemptionWorkflow],
        activities=[chain.redeem],
    ):
        for nonce in (1, 1, 2, 3, 2, 1):
            await workflow_env.client.start_workflow(
                RedemptionWorkflow.run,
                RedemptionInput(recipient="0x" + "11" * 20),
                id=workflow_id,
                task_queue=queue,
                start_signal="ticket",
                start_signal_args=[winner(nonce)],
            )
        handle = workflow_env.client.get_workflow_handle(workflow_id)
        status = RedemptionStatus(recipient="", queued=["x"], redeemed={}, failed={})
        for _ in range(100):
            status = await handle.query(RedemptionWorkflow.status)
            if not status.queued and len(status.redeemed) + len(status.failed) == 3:
                break
            await asyncio.sleep(0.1)
        await handle.signal(RedemptionWorkflow.ticket, winner(1))  # after redemption: ignored
        await asyncio.sleep(0.3)
        status = await handle.query(RedemptionWorkflow.status)
        await handle.terminate()
    assert sorted(status.redeemed.values()) == ["0xtx1", "0xtx2"]
    assert list(status.failed) == [winner(3).ticket_hash]
    assert "did not win" in status.failed[winner(3).ticket_hash]
    assert sorted(chain.redeemed) == [1, 2]  # nonce 2's first batch failed and was retried
    assert any(2 in batch for batch in chain.batches[:-1])


async def test_state_survives_continue_as_new(workflow_env: WorkflowEnvironment) -> None:
    chain = StandInChain()
    queue = f"redeem-{uuid.uuid4()}"
    workflow_id = f"redemption-{uuid.uuid4()}"
    nonces = (1, 4, 5, 6, 7)
    async with Worker(
        workflow_env.client,
        task_queue=queue,
        workflows=[RedemptionWorkflow],
        activities=[chain.redeem],
    ):
        for nonce in nonces:
            await workflow_env.client.start_workflow(
                RedemptionWorkflow.run,
                RedemptionInput(recipient="0x" + "11" * 20, tickets_per_run=2),
                id=workflow_id,
                task_queue=queue,
                start_signal="ticket",
                start_signal_args=[winner(nonce)],
            )
        handle = workflow_env.client.get_workflow_handle(workflow_id)
        for _ in range(100):
            status = await handle.query(RedemptionWorkflow.status)
            if len(status.redeemed) == len(nonces):
                break
            await asyncio.sleep(0.1)
        for nonce in nonces:  # every one of them again, after several continue-as-new runs
            await handle.signal(RedemptionWorkflow.ticket, winner(nonce))
        await asyncio.sleep(0.3)
        status = await handle.query(RedemptionWorkflow.status)
        first_event = (await handle.fetch_history()).events[0]
        continued_from = first_event.workflow_execution_started_event_attributes
        await handle.terminate()
    assert continued_from.continued_execution_run_id, "the workflow never continued as new"
    assert sorted(status.redeemed.values()) == sorted(f"0xtx{n}" for n in nonces)
    assert status.queued == [] and status.pending == []
    assert sorted(chain.redeemed) == sorted(nonces)
