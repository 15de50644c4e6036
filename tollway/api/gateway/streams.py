"""A gateway's live streams, for both of its stream APIs (go-livepeer's `/process/stream` and
the tenants' `/v1/streams`): start one and wait until it runs, read its status, update it,
stop it, and follow its data output. Each stream is a StreamWorkflow, `stream.<id>`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from sse_starlette import ServerSentEvent
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from tollway.activities.relay import client_channels
from tollway.activities.streams import StreamSpec
from tollway.api.gateway.services import GatewayServices
from tollway.errors import (
    AllOrchestratorsFailed,
    NoOrchestrator,
    NotFound,
    OrchestratorFailed,
    StreamStopped,
)
from tollway.protocol.stream import StreamOptions
from tollway.streams.trickle import Channel
from tollway.temporal import start_attributes
from tollway.workflows.stream import StreamStatus, StreamWorkflow

__all__ = [
    "data_events",
    "start",
    "status",
    "stop",
    "stream_spec",
    "stream_urls",
    "update",
]

STOP_WAIT_SECONDS = 20.0


def _workflow_id(stream_id: str) -> str:
    return f"stream.{stream_id}"


def stream_spec(
    services: GatewayServices,
    stream_id: str,
    capability: str,
    params: dict[str, Any],
    parameters: str,
    tenant: str,
    price_caps: dict[str, int],
    policy: Any = None,
) -> StreamSpec:
    """A stream's workflow input, with this gateway's settings."""
    StreamOptions.parse(parameters)  # refused here, not at each orchestrator
    settings = services.settings
    return StreamSpec(
        stream_id=stream_id,
        capability=capability,
        params=params,
        parameters=parameters,
        price_caps=price_caps,
        policy=services.policy(tenant, policy),
        relay_task_queue=settings.relay_task_queue,
        max_swaps=settings.max_stream_swaps,
        payment_seconds=settings.stream_payment_seconds,
        event_silence_seconds=settings.stream_event_silence_seconds,
        client_idle_seconds=settings.stream_client_idle_seconds,
        tenant=tenant,
    )


async def start(services: GatewayServices, spec: StreamSpec) -> StreamStatus:
    """Start the stream and wait until it runs on an orchestrator: NoOrchestrator or
    AllOrchestratorsFailed (with each attempt) when it cannot start."""
    services.relays.open(spec.stream_id)
    handle = await services.temporal.start_workflow(
        StreamWorkflow.run,
        args=[spec, None],  # both, or the payload converter does not apply the type hints
        id=_workflow_id(spec.stream_id),
        task_queue=services.settings.task_queue,
        search_attributes=start_attributes(spec.tenant, spec.capability, "starting"),
    )
    started: StreamStatus = await handle.execute_update(StreamWorkflow.started)
    if started.state == "failed":
        attempts = [a.model_dump() for a in started.attempts]
        error = NoOrchestrator if not attempts else AllOrchestratorsFailed
        raise error(started.error or "the stream did not start", attempts=attempts)
    if started.state == "stopped" or started.orchestrator is None:
        raise StreamStopped(f"stream {spec.stream_id!r} was stopped while it started")
    return started


def stream_urls(base: str, stream_id: str, control: str) -> dict[str, str]:
    """Where a client publishes, reads, and controls the stream (`control`: the URL prefix of
    its status, update, data and stop routes)."""
    names = client_channels(stream_id)
    return {
        "stream_id": stream_id,
        "publish_url": f"{base}/ai/trickle/{names.video_in}",
        "subscribe_url": f"{base}/ai/trickle/{names.video_out}",
        "update_url": f"{control}/update",
        "status_url": f"{control}/status",
        "data_url": f"{control}/data",
        "stop_url": f"{control}/stop",
    }


async def status(services: GatewayServices, stream_id: str) -> StreamStatus:
    handle = services.temporal.get_workflow_handle(_workflow_id(stream_id))
    try:
        found: StreamStatus = await handle.query(StreamWorkflow.status)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(f"no stream {stream_id!r}") from exc
        raise
    return found


async def update(services: GatewayServices, stream_id: str, params: dict[str, Any]) -> StreamStatus:
    """New parameters for the running stream: its container gets them now, and the next
    orchestrator's does on a swap. StreamStopped once it stopped."""
    handle = services.temporal.get_workflow_handle(_workflow_id(stream_id))
    try:
        updated: StreamStatus = await handle.execute_update(StreamWorkflow.update, params)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        await status(services, stream_id)  # NotFound for a stream never started
        raise StreamStopped(f"stream {stream_id!r} has stopped") from exc
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == StreamStopped.__name__:
            raise StreamStopped(cause.message) from exc
        raise OrchestratorFailed(f"the update did not reach the stream: {cause}") from exc
    return updated


async def stop(services: GatewayServices, stream_id: str) -> StreamStatus:
    """Stop the stream and wait for it to end on its orchestrator; stopping a stopped stream
    answers its status again."""
    handle = services.temporal.get_workflow_handle(
        _workflow_id(stream_id), result_type=StreamStatus
    )
    try:
        await handle.signal(StreamWorkflow.stop)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        return await status(services, stream_id)  # NotFound, or the stopped stream
    try:
        result: StreamStatus = await asyncio.wait_for(handle.result(), STOP_WAIT_SECONDS)
    except (TimeoutError, WorkflowFailureError):
        return await status(services, stream_id)
    return result


async def data_events(services: GatewayServices, stream_id: str) -> AsyncIterator[ServerSentEvent]:
    """The stream's data output, one `data` event per segment from the first, until the stream
    ends. NotFound for a stream never started; StreamStopped for one that ended (or that
    another gateway API relays)."""
    channel = services.trickle.get(client_channels(stream_id).data)
    if channel is None:
        await status(services, stream_id)
        raise StreamStopped(f"stream {stream_id!r} has stopped, or is relayed by another gateway")
    return _events(channel)


async def _events(channel: Channel) -> AsyncIterator[ServerSentEvent]:
    seq = 0
    while not channel.closed:
        segment = channel.for_read(seq)
        if segment is None:  # fell out of the held window: on from the newest
            seq = channel.next_write
            continue
        data = b"".join([chunk async for chunk in segment.chunks()])
        if data:
            text = data.decode(errors="replace")
            yield ServerSentEvent(data=text, event="data", id=str(segment.seq))
        seq = segment.seq + 1
