"""The tenants' live-stream API, `/v1/streams` (an API key required, as for `/v1/jobs`):
`POST /v1/streams` starts a stream and answers its URLs once it runs (201); `GET /v1/streams`
lists the tenant's recent streams; `GET /v1/streams/{id}` is its status; `/{id}/update`,
`/{id}/data` (server-sent events) and `/{id}/stop` as on `/process/stream`. A tenant sees only
its own streams."""

from __future__ import annotations

import json
import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse

from tollway.api.body import parse_json_body, read_body
from tollway.api.gateway import streams
from tollway.api.gateway.deps import Services, StreamUser
from tollway.api.gateway.routes.streams import START_BODY_LIMIT, StreamParams, params_of
from tollway.api.gateway.stream_list import StreamList, recent_streams
from tollway.api.openapi import hand_read, json_body, problems
from tollway.config import SelectionPolicy
from tollway.errors import (
    AllOrchestratorsFailed,
    BadRequest,
    BodyTooLarge,
    NoOrchestrator,
    NotFound,
    OrchestratorFailed,
    RequestTimeout,
    StreamStopped,
)
from tollway.protocol.header import CAPABILITY_NAME
from tollway.workflows.stream import StreamStatus

__all__ = ["StreamSubmission", "list_streams", "router"]

router = APIRouter(prefix="/v1/streams")
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_-]")


class StreamSubmission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    capability: str = Field(pattern=CAPABILITY_NAME)
    params: dict[str, Any] = {}
    """The pipeline's parameters, given to the container at the start (and at each swap)."""
    name: str = Field(default="stream", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    video_in: bool = True
    video_out: bool = True
    data_output: bool = False
    max_price_wei_per_second: int | None = Field(default=None, ge=0)
    policy: SelectionPolicy | None = None


def _prefix(tenant: str) -> str:
    return f"{_NOT_IN_NAME.sub('-', tenant)}."


def _owned(stream_id: str, tenant: str) -> str:
    if not stream_id.startswith(_prefix(tenant)):
        raise NotFound(f"no stream {stream_id!r}")
    return stream_id


@router.post(
    "",
    status_code=201,
    responses=problems(
        BadRequest,
        BodyTooLarge,
        RequestTimeout,
        StreamStopped,
        AllOrchestratorsFailed,
        NoOrchestrator,
    ),
    openapi_extra=hand_read(json_body(StreamSubmission)),
)
async def create_stream(request: Request, services: Services, caller: StreamUser) -> dict[str, str]:
    settings = services.settings
    body = await read_body(request, START_BODY_LIMIT, settings.body_read_timeout_seconds)
    submission = parse_json_body(StreamSubmission, body)
    caller.require_capability(submission.capability)
    tenant = caller.tenant
    stream_id = f"{_prefix(tenant)}{submission.name}-{uuid.uuid4().hex}"
    parameters = json.dumps(
        {
            "enable_video_ingress": submission.video_in,
            "enable_video_egress": submission.video_out,
            "enable_data_output": submission.data_output,
        }
    )
    caps = services.price_caps(
        submission.capability, tenant, {"second": submission.max_price_wei_per_second}
    )
    spec = streams.stream_spec(
        services,
        stream_id,
        submission.capability,
        submission.params,
        parameters,
        tenant,
        caps,
        submission.policy,
    )
    await streams.start(services, spec)
    base = str(request.base_url).rstrip("/")
    control = f"{base}/v1/streams/{stream_id}"
    return {**streams.stream_urls(base, stream_id, control), "status_url": control}


@router.get("")
async def list_streams(
    services: Services,
    caller: StreamUser,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> StreamList:
    """The tenant's most recent streams, newest first, as Temporal's visibility has them."""
    return await recent_streams(services, caller.tenant, limit)


@router.get("/{stream_id}", responses=problems(NotFound))
async def stream_status(stream_id: str, services: Services, caller: StreamUser) -> StreamStatus:
    return await streams.status(services, _owned(stream_id, caller.tenant))


@router.post(
    "/{stream_id}/update",
    responses=problems(
        BadRequest, BodyTooLarge, RequestTimeout, NotFound, StreamStopped, OrchestratorFailed
    ),
    openapi_extra=hand_read(json_body(StreamParams, required=False)),
)
async def update_stream(
    stream_id: str, request: Request, services: Services, caller: StreamUser
) -> StreamStatus:
    _owned(stream_id, caller.tenant)
    body = await read_body(request, START_BODY_LIMIT, services.settings.body_read_timeout_seconds)
    return await streams.update(services, stream_id, params_of(body.decode(errors="replace")))


@router.post("/{stream_id}/stop", responses=problems(NotFound))
async def stop_stream(stream_id: str, services: Services, caller: StreamUser) -> StreamStatus:
    return await streams.stop(services, _owned(stream_id, caller.tenant))


@router.get(
    "/{stream_id}/data",
    response_class=EventSourceResponse,
    responses={
        200: {"description": "Server-sent events, one `data` event per segment."},
        **problems(NotFound, StreamStopped),
    },
)
async def stream_data(
    stream_id: str, services: Services, caller: StreamUser
) -> EventSourceResponse:
    return EventSourceResponse(
        await streams.data_events(services, _owned(stream_id, caller.tenant))
    )
