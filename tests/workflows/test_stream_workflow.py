"""StreamWorkflow's decisions with stand-in activities on a real Temporal dev server: a running
stream pays on its interval, a failing orchestrator is stopped and the stream swaps to the next,
and a stream with no orchestrator left fails naming each attempt. The HTTP path runs end to end
in tests/e2e/test_streams_gateway.py."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflows.test_job_workflow import candidate
from tollway.activities.discovery import DiscoverInput, Discovery
from tollway.activities.payment import PaymentInput, PaymentPlan
from tollway.activities.relay import RelayInput
from tollway.activities.streams import (
    PayOnInput,
    StartOnInput,
    StopOnInput,
    StreamSpec,
    StreamUrls,
    UpdateOnInput,
)
from tollway.workflows.stream import StreamStatus, StreamWorkflow


class StandInStreams:
    """Stand-in activities: orchestrators in `failing` break the relay `fail_after` seconds
    after a start."""

    def __init__(self, urls: list[str], failing: set[str], fail_after: float = 0.2) -> None:
        self.candidates = [candidate(url, 1) for url in urls]
        self.failing = failing
        self.fail_after = fail_after
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.paid: list[str] = []
        self.closed: list[str] = []
        self.updates: list[tuple[str, dict[str, Any]]] = []
        self.started_with: list[dict[str, Any]] = []
        self.relays: list[str] = []

    @activity.defn(name="discover_orchestrators")
    async def discover(self, request: DiscoverInput) -> Discovery:
        chosen = [
            c
            for c in self.candidates
            if c.url not in request.exclude and (not request.include or c.url in request.include)
        ]
        return Discovery(candidates=chosen, failures=[])

    @activity.defn(name="create_payment")
    async def pay(self, request: PaymentInput) -> PaymentPlan:
        return PaymentPlan(header="stand-in", tickets=1, ev_wei=10)

    @activity.defn(name="start_stream_on")
    async def start_on(self, request: StartOnInput) -> StreamUrls:
        self.started.append(request.candidate.url)
        self.started_with.append(request.spec.params)
        return StreamUrls(orchestrator=request.candidate.url, publish_url="in", subscribe_url="out")

    @activity.defn(name="relay_stream")
    async def relay(self, request: RelayInput) -> None:
        self.relays.append(request.urls.orchestrator)
        if request.urls.orchestrator in self.failing:
            await asyncio.sleep(self.fail_after)
            raise ApplicationError(
                "the relay failed", type="OrchestratorFailed", non_retryable=True
            )
        while True:  # until the stream stops (cancelled, heard at a heartbeat)
            activity.heartbeat()
            await asyncio.sleep(0.1)

    @activity.defn(name="stop_stream_on")
    async def stop_on(self, request: StopOnInput) -> bool:
        self.stopped.append(request.orchestrator)
        return True

    @activity.defn(name="update_stream_on")
    async def update_on(self, request: UpdateOnInput) -> None:
        self.updates.append((request.orchestrator, request.params))

    @activity.defn(name="pay_stream_on")
    async def pay_on(self, request: PayOnInput) -> int:
        self.paid.append(request.orchestrator)
        return 0

    @activity.defn(name="close_stream_channels")
    async def close(self, stream_id: str) -> None:
        self.closed.append(stream_id)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.discover,
            self.pay,
            self.start_on,
            self.relay,
            self.stop_on,
            self.update_on,
            self.pay_on,
            self.close,
        ]


def relay_worker(client: Client, queue: str, streams: StandInStreams) -> Worker:
    """A worker as the gateway API runs the relay: it hears a cancel within a second (not
    at 80% of the heartbeat timeout)."""
    return Worker(
        client,
        task_queue=queue,
        workflows=[StreamWorkflow],
        activities=streams.all(),
        max_heartbeat_throttle_interval=timedelta(seconds=1),
    )


def spec(
    queue: str, payment_seconds: float = 60, max_swaps: int = 3, payments_per_run: int = 200
) -> StreamSpec:
    return StreamSpec(
        stream_id=f"s-{uuid.uuid4().hex[:8]}",
        capability="live",
        relay_task_queue=queue,
        payment_seconds=payment_seconds,
        max_swaps=max_swaps,
        payments_per_run=payments_per_run,
    )


async def run_for(
    env: WorkflowEnvironment, streams: StandInStreams, stream: StreamSpec, seconds: float
) -> StreamStatus:
    """Run the stream for `seconds`, then stop it; its final status."""
    queue = stream.relay_task_queue
    async with relay_worker(env.client, queue, streams):
        handle = await env.client.start_workflow(
            StreamWorkflow.run, args=[stream, None], id=stream.stream_id, task_queue=queue
        )
        await asyncio.sleep(seconds)
        await handle.signal(StreamWorkflow.stop)
        result: StreamStatus = await handle.result()
        return result


async def test_a_running_stream_pays_on_its_interval(workflow_env: WorkflowEnvironment) -> None:
    queue = f"streams-{uuid.uuid4()}"
    streams = StandInStreams(["http://a"], failing=set())
    status = await run_for(workflow_env, streams, spec(queue, payment_seconds=1), 3.6)
    assert status.state == "stopped" and status.swaps == 0
    assert len(streams.paid) >= 2 and set(streams.paid) == {"http://a"}
    assert status.payments == 1 + len(streams.paid)  # the start's, then each interval's
    assert status.ticket_ev_wei == 10 * status.payments
    assert streams.stopped == ["http://a"] and streams.closed == [status.stream_id]


async def test_a_long_stream_continues_as_new_and_runs_on_where_it_was(
    workflow_env: WorkflowEnvironment,
) -> None:
    queue = f"streams-{uuid.uuid4()}"
    streams = StandInStreams(["http://a", "http://b"], failing=set())
    stream = spec(queue, payment_seconds=0.5, payments_per_run=2)
    async with relay_worker(workflow_env.client, queue, streams):
        handle = await workflow_env.client.start_workflow(
            StreamWorkflow.run, args=[stream, None], id=stream.stream_id, task_queue=queue
        )
        first_run = (await handle.describe()).run_id
        while len(streams.relays) < 3:  # two runs after the first
            await asyncio.sleep(0.05)
        updated = await handle.execute_update(StreamWorkflow.update, {"strength": 3})
        assert updated.state == "running" and updated.orchestrator == "http://a"
        await handle.signal(StreamWorkflow.stop)
        final = await handle.result()
        last_run = (await handle.describe()).run_id
    assert last_run != first_run
    # One start, one stop: each new run relays again on the same orchestrator, no swap.
    assert streams.started == ["http://a"] and streams.stopped == ["http://a"]
    assert set(streams.relays) == {"http://a"} and final.swaps == 0
    assert final.payments == 1 + len(streams.paid) and len(streams.paid) >= 4
    assert streams.updates == [("http://a", {"strength": 3})]
    assert streams.closed == [stream.stream_id]  # closed once, at the stop
    assert final.state == "stopped"


async def test_a_failing_orchestrator_is_stopped_and_the_stream_swaps(
    workflow_env: WorkflowEnvironment,
) -> None:
    queue = f"streams-{uuid.uuid4()}"
    streams = StandInStreams(["http://a", "http://b"], failing={"http://a"})
    status = await run_for(workflow_env, streams, spec(queue), 1.5)
    assert streams.started == ["http://a", "http://b"]
    assert streams.stopped == ["http://a", "http://b"]  # the failed one, then at the stop
    assert status.swaps == 1 and status.orchestrator == "http://b"
    assert [(a.orchestrator, a.stage) for a in status.attempts] == [("http://a", "stream")]


async def test_a_stream_with_no_orchestrator_left_fails_naming_each(
    workflow_env: WorkflowEnvironment,
) -> None:
    queue = f"streams-{uuid.uuid4()}"
    streams = StandInStreams(["http://a", "http://b"], failing={"http://a", "http://b"})
    stream = spec(queue, max_swaps=5)
    async with relay_worker(workflow_env.client, queue, streams):
        with pytest.raises(WorkflowFailureError) as failure:
            await workflow_env.client.execute_workflow(
                StreamWorkflow.run, args=[stream, None], id=stream.stream_id, task_queue=queue
            )
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "AllOrchestratorsFailed"
    assert "no orchestrator left" in cause.message
    assert [a["orchestrator"] for a in cause.details[0]] == ["http://a", "http://b"]
    assert streams.closed == [stream.stream_id]  # its client channels closed all the same


async def test_an_update_reaches_the_container_now_and_the_next_on_a_swap(
    workflow_env: WorkflowEnvironment,
) -> None:
    queue = f"streams-{uuid.uuid4()}"
    streams = StandInStreams(["http://a", "http://b"], failing={"http://a"}, fail_after=1.5)
    stream = spec(queue)
    async with relay_worker(workflow_env.client, queue, streams):
        handle = await workflow_env.client.start_workflow(
            StreamWorkflow.run, args=[stream, None], id=stream.stream_id, task_queue=queue
        )
        while not streams.started:
            await asyncio.sleep(0.05)
        status = await handle.execute_update(StreamWorkflow.update, {"strength": 2})
        assert status.state == "running" and status.orchestrator == "http://a"
        assert streams.updates == [("http://a", {"strength": 2})]
        while len(streams.started) < 2:  # a's relay breaks: the stream moves to b
            await asyncio.sleep(0.05)
        await handle.signal(StreamWorkflow.stop)
        final = await handle.result()
    assert streams.started == ["http://a", "http://b"] and final.swaps == 1
    assert streams.started_with == [{}, {"strength": 2}]  # b started with the latest
