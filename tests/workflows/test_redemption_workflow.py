"""RedemptionWorkflow: each winning ticket redeemed once, however often it is signalled."""

from __future__ import annotations

import asyncio
import uuid

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tollway.payments.models import Redeemed, WinningTicket
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
    def __init__(self) -> None:
        self.calls: list[int] = []

    @activity.defn(name="redeem_ticket")
    async def redeem(self, ticket: WinningTicket) -> Redeemed:
        self.calls.append(ticket.sender_nonce)
        if ticket.sender_nonce == 3:
            raise ApplicationError(
                "ticket did not win", type="RedemptionRefused", non_retryable=True
            )
        if self.calls.count(ticket.sender_nonce) == 1 and ticket.sender_nonce == 2:
            raise ApplicationError("rpc down for a moment")  # retried
        return Redeemed(
            ticket_hash=ticket.ticket_hash,
            tx_hash=f"0xtx{ticket.sender_nonce}",
            face_value=ticket.face_value,
            sender=ticket.sender,
        )


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
    assert sorted(chain.calls) == [1, 2, 2, 3]  # nonce 2 once failed transiently and was retried


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
    assert status.queued == [] and status.pending is None
    assert sorted(chain.calls) == sorted(nonces)
