"""Live streams through the gateway, go-livepeer's client API: `POST /process/stream/start`
(the `Livepeer` header names the capability; the body is go-livepeer's StartRequest) answers
the stream's URLs once it runs on an orchestrator (503 or 502 naming each attempt when it
cannot start): the client publishes its video to `publish_url` and reads the result from
`subscribe_url`, both trickle channels on this gateway that stay the same when the stream moves
to another orchestrator. `/{id}/status`, `/{id}/update` and `/{id}/stop` follow the stream's
workflow."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from tollway.activities.relay import client_channels
from tollway.activities.streams import StreamSpec
from tollway.api.body import parse_json_body, read_body
from tollway.api.gateway.deps import Services
from tollway.api.gateway.services import GatewayServices
from tollway.errors import (
    AllOrchestratorsFailed,
    BadRequest,
    NoOrchestrator,
    NotFound,
    OrchestratorFailed,
    StreamStopped,
)
from tollway.protocol.header import JobRequest
from tollway.protocol.stream import StreamOptions
from tollway.streams.trickle import Channel
from tollway.workflows.stream import StreamStatus, StreamWorkflow

__all__ = [
    "StartRequest",
    "router",
    "start_stream",
    "stop_stream",
    "stream_data",
    "stream_status",
    "update_stream",
]

router = APIRouter(prefix="/process/stream")

START_BODY_LIMIT = 1024 * 1024
STOP_WAIT_SECONDS = 20.0
_NAME = re.compile(r"[^A-Za-z0-9_.-]")


class StartRequest(BaseModel):
    """go-livepeer's StartRequest (`rtmp_output` is kept for its clients; tollway relays over
    trickle only, so far)."""

    stream_name: str = Field(default="stream", max_length=64)
    stream_id: str = Field(default="", max_length=64)
    rtmp_output: str = ""
    params: str = "{}"
    """The pipeline's parameters, a JSON object in a string."""


def _workflow_id(stream_id: str) -> str:
    return f"stream.{stream_id}"


def _params(text: str) -> dict[str, Any]:
    try:
        params = json.loads(text or "{}")
    except ValueError as exc:
        raise BadRequest("params is not JSON", field="params") from exc
    if not isinstance(params, dict):
        raise BadRequest("params must hold a JSON object", field="params")
    return params


@router.post("/start")
async def start_stream(request: Request, services: Services) -> dict[str, str]:
    job = JobRequest.decode(request.headers.get("Livepeer"))
    StreamOptions.parse(job.parameters)  # refused here, not at each orchestrator
    settings = services.settings
    body = await read_body(request, START_BODY_LIMIT, settings.body_read_timeout_seconds)
    start = parse_json_body(StartRequest, body or b"{}")
    name = _NAME.sub("-", start.stream_name) or "stream"
    stream_id = f"{name}-{_NAME.sub('-', start.stream_id) or uuid.uuid4().hex}"
    spec = StreamSpec(
        stream_id=stream_id,
        capability=job.capability,
        params=_params(start.params),
        parameters=job.parameters,
        price_caps=services.price_caps(job.capability, "default"),
        policy=services.policy("default"),
        relay_task_queue=settings.relay_task_queue,
        max_swaps=settings.max_stream_swaps,
        payment_seconds=settings.stream_payment_seconds,
        event_silence_seconds=settings.stream_event_silence_seconds,
        client_idle_seconds=settings.stream_client_idle_seconds,
    )
    services.relays.open(stream_id)
    handle = await services.temporal.start_workflow(
        StreamWorkflow.run, spec, id=_workflow_id(stream_id), task_queue=settings.task_queue
    )
    status: StreamStatus = await handle.execute_update(StreamWorkflow.started)
    if status.state == "failed":
        attempts = [a.model_dump() for a in status.attempts]
        error = NoOrchestrator if not attempts else AllOrchestratorsFailed
        raise error(status.error or "the stream did not start", attempts=attempts)
    if status.state == "stopped" or status.orchestrator is None:
        raise StreamStopped(f"stream {stream_id!r} was stopped while it started")
    base = str(request.base_url).rstrip("/")
    incoming, outgoing, _ = client_channels(stream_id)
    return {
        "stream_id": stream_id,
        "publish_url": f"{base}/ai/trickle/{incoming}",
        "subscribe_url": f"{base}/ai/trickle/{outgoing}",
        "update_url": f"{base}/process/stream/{stream_id}/update",
        "status_url": f"{base}/process/stream/{stream_id}/status",
        "data_url": f"{base}/process/stream/{stream_id}/data",
        "stop_url": f"{base}/process/stream/{stream_id}/stop",
    }


async def _status(services: GatewayServices, stream_id: str) -> StreamStatus:
    handle = services.temporal.get_workflow_handle(_workflow_id(stream_id))
    try:
        status: StreamStatus = await handle.query(StreamWorkflow.status)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(f"no stream {stream_id!r}") from exc
        raise
    return status


@router.get("/{stream_id}/status")
async def stream_status(stream_id: str, services: Services) -> StreamStatus:
    return await _status(services, stream_id)


@router.post("/{stream_id}/update")
async def update_stream(stream_id: str, request: Request, services: Services) -> StreamStatus:
    """New parameters (a JSON object) for the running stream: its container gets them now, and
    the next orchestrator's does on a swap. 409 once the stream stopped."""
    body = await read_body(request, START_BODY_LIMIT, services.settings.body_read_timeout_seconds)
    params = _params(body.decode(errors="replace"))
    handle = services.temporal.get_workflow_handle(_workflow_id(stream_id))
    try:
        status: StreamStatus = await handle.execute_update(StreamWorkflow.update, params)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        await _status(services, stream_id)  # NotFound for a stream never started
        raise StreamStopped(f"stream {stream_id!r} has stopped") from exc
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == StreamStopped.__name__:
            raise StreamStopped(cause.message) from exc
        raise OrchestratorFailed(f"the update did not reach the stream: {cause}") from exc
    return status


@router.post("/{stream_id}/stop")
async def stop_stream(stream_id: str, services: Services) -> StreamStatus:
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
        return await _status(services, stream_id)  # NotFound, or the stopped stream
    try:
        result: StreamStatus = await asyncio.wait_for(handle.result(), STOP_WAIT_SECONDS)
    except (TimeoutError, WorkflowFailureError):
        return await _status(services, stream_id)
    return result


@router.get("/{stream_id}/data")
async def stream_data(stream_id: str, services: Services) -> EventSourceResponse:
    """The stream's data output (with `enable_data_output`) as server-sent events, one `data`
    event per segment the container published, from the first; it ends with the stream."""
    channel = services.trickle.get(client_channels(stream_id).data)
    if channel is None:
        await _status(services, stream_id)  # NotFound for a stream never started
        raise StreamStopped(f"stream {stream_id!r} has stopped, or is relayed by another gateway")
    return EventSourceResponse(_data_events(channel))


async def _data_events(channel: Channel) -> AsyncIterator[ServerSentEvent]:
    seq = 0
    while not channel.closed:
        segment = channel.for_read(seq)
        if segment is None:  # fell out of the held window: on from the newest
            seq = channel.next_write
            continue
        data = b"".join([chunk async for chunk in segment.chunks()])
        if data:
            yield ServerSentEvent(
                data=data.decode(errors="replace"), event="data", id=str(segment.seq)
            )
        seq = segment.seq + 1
