"""Live streams through the gateway, go-livepeer's client API: `POST /process/stream/start`
(the `Livepeer` header names the capability; the body is go-livepeer's StartRequest) answers
the stream's URLs once it runs on an orchestrator (503 or 502 naming each attempt when it
cannot start): the client publishes its video to `publish_url` and reads the result from
`subscribe_url`, both trickle channels on this gateway that stay the same when the stream moves
to another orchestrator. `/{id}/status`, `/{id}/update`, `/{id}/data` (server-sent events) and
`/{id}/stop` follow the stream's workflow. Open, as go-livepeer's is; `/v1/streams` is the
tenants' API, with a key."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, RootModel
from sse_starlette import EventSourceResponse

from tollway.api.body import parse_json_body, read_body
from tollway.api.gateway import streams
from tollway.api.gateway.deps import LivepeerCaller, Services
from tollway.api.gateway.routes.process import LIVEPEER_HEADER
from tollway.api.openapi import hand_read, json_body, problems
from tollway.errors import (
    AllOrchestratorsFailed,
    BadJobHeader,
    BadRequest,
    BodyTooLarge,
    Forbidden,
    NoOrchestrator,
    NotFound,
    OrchestratorFailed,
    RequestTimeout,
    StreamStopped,
)
from tollway.protocol.header import JobRequest
from tollway.store.tenants import Principal
from tollway.workflows.stream import StreamStatus

__all__ = [
    "START_BODY_LIMIT",
    "StartRequest",
    "StreamParams",
    "params_of",
    "router",
    "start_stream",
    "stop_stream",
    "stream_data",
    "stream_status",
    "update_stream",
]

_KEY_OPTIONAL: dict[str, Any] = {"security": [{}]}
"""go-livepeer's routes are open unless the operator requires a key."""
_STREAM_ERRORS = problems(Forbidden, NotFound)

router = APIRouter(prefix="/process/stream")

START_BODY_LIMIT = 1024 * 1024
_NAME = re.compile(r"[^A-Za-z0-9_.-]")


class StartRequest(BaseModel):
    """go-livepeer's StartRequest (`rtmp_output` is kept for its clients; tollway relays over
    trickle only, so far)."""

    stream_name: str = Field(default="stream", max_length=64)
    stream_id: str = Field(default="", max_length=64)
    rtmp_output: str = ""
    params: str = "{}"
    """The pipeline's parameters, a JSON object in a string."""


class StreamParams(RootModel[dict[str, Any]]):
    """A stream's parameters: a JSON object, given to its container."""


def params_of(text: str) -> dict[str, Any]:
    """A JSON object given as text (a StartRequest's `params`, an update's body)."""
    try:
        params = json.loads(text or "{}")
    except ValueError as exc:
        raise BadRequest("params is not JSON", field="params") from exc
    if not isinstance(params, dict):
        raise BadRequest("params must hold a JSON object", field="params")
    return params


def _tenant(caller: Principal | None) -> str:
    """The tenant a stream request speaks for: its key's (which needs `streams`), or the
    gateway's own without one."""
    if caller is None:
        return "default"
    caller.require("streams")
    return caller.tenant


@router.post(
    "/start",
    responses=problems(
        BadJobHeader,
        BadRequest,
        BodyTooLarge,
        RequestTimeout,
        Forbidden,
        StreamStopped,
        AllOrchestratorsFailed,
        NoOrchestrator,
    ),
    openapi_extra={
        **hand_read(json_body(StartRequest, required=False), (LIVEPEER_HEADER,)),
        **_KEY_OPTIONAL,
    },
)
async def start_stream(
    request: Request, services: Services, caller: LivepeerCaller
) -> dict[str, str]:
    job = JobRequest.decode(request.headers.get("Livepeer"))
    tenant = _tenant(caller)
    if caller is not None:
        caller.require_capability(job.capability)
    body = await read_body(request, START_BODY_LIMIT, services.settings.body_read_timeout_seconds)
    start = parse_json_body(StartRequest, body or b"{}")
    name = _NAME.sub("-", start.stream_name) or "stream"
    stream_id = f"{name}-{_NAME.sub('-', start.stream_id) or uuid.uuid4().hex}"
    spec = streams.stream_spec(
        services,
        stream_id,
        job.capability,
        params_of(start.params),
        job.parameters,
        tenant,
        services.price_caps(job.capability, tenant),
    )
    await streams.start(services, spec)
    base = str(request.base_url).rstrip("/")
    return streams.stream_urls(base, stream_id, f"{base}/process/stream/{stream_id}")


@router.get("/{stream_id}/status", responses=_STREAM_ERRORS, openapi_extra=_KEY_OPTIONAL)
async def stream_status(stream_id: str, services: Services, caller: LivepeerCaller) -> StreamStatus:
    _tenant(caller)
    return await streams.status(services, stream_id)


@router.post(
    "/{stream_id}/update",
    responses=problems(
        BadRequest,
        BodyTooLarge,
        RequestTimeout,
        Forbidden,
        NotFound,
        StreamStopped,
        OrchestratorFailed,
    ),
    openapi_extra={**hand_read(json_body(StreamParams, required=False)), **_KEY_OPTIONAL},
)
async def update_stream(
    stream_id: str, request: Request, services: Services, caller: LivepeerCaller
) -> StreamStatus:
    """New parameters (a JSON object) for the running stream: its container gets them now, and
    the next orchestrator's does on a swap. 409 once the stream stopped."""
    _tenant(caller)
    body = await read_body(request, START_BODY_LIMIT, services.settings.body_read_timeout_seconds)
    return await streams.update(services, stream_id, params_of(body.decode(errors="replace")))


@router.post("/{stream_id}/stop", responses=_STREAM_ERRORS, openapi_extra=_KEY_OPTIONAL)
async def stop_stream(stream_id: str, services: Services, caller: LivepeerCaller) -> StreamStatus:
    """Stop the stream; stopping a stopped stream answers its status again."""
    _tenant(caller)
    return await streams.stop(services, stream_id)


@router.get(
    "/{stream_id}/data",
    response_class=EventSourceResponse,
    responses={
        200: {"description": "Server-sent events, one `data` event per segment."},
        **problems(Forbidden, NotFound, StreamStopped),
    },
    openapi_extra=_KEY_OPTIONAL,
)
async def stream_data(
    stream_id: str, services: Services, caller: LivepeerCaller
) -> EventSourceResponse:
    """The stream's data output (with `enable_data_output`) as server-sent events, one `data`
    event per segment the container published, from the first; it ends with the stream."""
    _tenant(caller)
    return EventSourceResponse(await streams.data_events(services, stream_id))
