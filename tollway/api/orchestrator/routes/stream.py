"""Live streams, as go-livepeer's orchestrator serves them: `/ai/stream/start`, `/stop`,
`/update` and `/payment`, each with the signed `Livepeer` header (the stream id in its
`request`) and, when paying, `Livepeer-Payment`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import RootModel

from tollway.api.body import parse_json_body, read_body
from tollway.api.openapi import hand_read, json_body, problems
from tollway.api.orchestrator.deps import Services
from tollway.api.orchestrator.routes.process import LIVEPEER_HEADER, PAYMENT_HEADER
from tollway.api.orchestrator.services import OrchestratorServices
from tollway.errors import (
    BadJobHeader,
    BadPayment,
    BadRequest,
    BadSignature,
    BodyIncomplete,
    BodyTooLarge,
    CapacityExhausted,
    ChainError,
    NotFound,
    PaymentRequired,
    RequestTimeout,
    StreamStopped,
    UnknownCapability,
    WorkerFailed,
)
from tollway.protocol.header import JobRequest
from tollway.protocol.stream import STREAM_URL_HEADERS, StreamStart, stream_id_of

__all__ = ["router", "start_stream", "stop_stream", "stream_payment", "update_stream"]

router = APIRouter(prefix="/ai/stream")

CONTROL_BODY_LIMIT = 1024 * 1024


async def _signed(
    request: Request, services: OrchestratorServices
) -> tuple[JobRequest, str, bytes]:
    job = JobRequest.decode(request.headers.get("Livepeer"))
    sender = job.verify()
    body = await read_body(request, CONTROL_BODY_LIMIT, services.settings.body_read_timeout_seconds)
    return job, sender, body


def _stream_id(job: JobRequest) -> str:
    stream_id = stream_id_of(job.request)
    if not stream_id:
        raise BadRequest("request.stream_id names the stream", field="request")
    return stream_id


class StreamParams(RootModel[dict[str, Any]]):
    """Parameters for the stream's container: a JSON object."""


_SIGNED = (
    BadJobHeader,
    BadSignature,
    BadRequest,
    BodyIncomplete,
    BodyTooLarge,
    RequestTimeout,
    NotFound,
    StreamStopped,
    WorkerFailed,
)
_BALANCE = {
    "Livepeer-Balance": {
        "description": "The sender's credit left, in wei.",
        "schema": {"type": "string"},
    }
}


def _object(body: bytes) -> dict[str, Any]:
    """A stop's or update's body, passed to the container: a JSON object (none: `{}`)."""
    return parse_json_body(StreamParams, body or b"{}").root


@router.post(
    "/start",
    responses={
        200: {
            "description": "The stream runs: its trickle channels' URLs (also as headers).",
            "headers": {
                **_BALANCE,
                **{
                    name: {"description": f"The stream's {key}.", "schema": {"type": "string"}}
                    for key, name in STREAM_URL_HEADERS.items()
                },
            },
        },
        **problems(
            *_SIGNED, BadPayment, PaymentRequired, UnknownCapability, CapacityExhausted, ChainError
        ),
    },
    openapi_extra=hand_read(
        json_body(StreamStart, required=False), (LIVEPEER_HEADER, PAYMENT_HEADER)
    ),
)
async def start_stream(request: Request, services: Services) -> JSONResponse:
    job, sender, body = await _signed(request, services)
    params = parse_json_body(StreamStart, body or b"{}").params
    streams = services.streams
    stream, balance = await streams.start(
        job, sender, request.headers.get("Livepeer-Payment"), params
    )
    channels = stream.channels
    urls = {
        "publish_url": channels.ingress,
        "subscribe_url": channels.egress,
        "control_url": channels.control,
        "events_url": channels.events,
        "data_url": channels.data,
    }
    found = {key: streams.client_url(name) for key, name in urls.items() if name}
    headers = {STREAM_URL_HEADERS[key]: url for key, url in found.items()}
    headers["Livepeer-Balance"] = str(balance)
    return JSONResponse({"stream_id": stream.stream_id, **found}, headers=headers)


@router.post(
    "/stop",
    responses=problems(*_SIGNED),
    openapi_extra=hand_read(json_body(StreamParams, required=False), (LIVEPEER_HEADER,)),
)
async def stop_stream(request: Request, services: Services) -> dict[str, Any]:
    job, sender, body = await _signed(request, services)
    stream_id = _stream_id(job)
    stopped = await services.streams.stop(stream_id, sender, _object(body))
    return {"stream_id": stream_id, "stopped": stopped}


@router.post(
    "/update",
    responses=problems(*_SIGNED),
    openapi_extra=hand_read(json_body(StreamParams, required=False), (LIVEPEER_HEADER,)),
)
async def update_stream(request: Request, services: Services) -> dict[str, str]:
    job, sender, body = await _signed(request, services)
    stream_id = _stream_id(job)
    await services.streams.update(stream_id, sender, _object(body))
    return {"stream_id": stream_id, "status": "updated"}


@router.post(
    "/payment",
    responses={
        200: {"description": "The payment is credited.", "headers": _BALANCE},
        **problems(*_SIGNED, BadPayment, ChainError),
    },
    openapi_extra=hand_read(headers=(LIVEPEER_HEADER, {**PAYMENT_HEADER, "required": True})),
)
async def stream_payment(request: Request, services: Services) -> JSONResponse:
    job, sender, _ = await _signed(request, services)
    payment = request.headers.get("Livepeer-Payment")
    if not payment:
        raise BadRequest("Livepeer-Payment is missing", field="Livepeer-Payment")
    await services.jobs.accept_payment(payment, sender, job)
    balance = services.ledger.balance_wei(sender, job.capability)
    return JSONResponse({"balance": balance}, headers={"Livepeer-Balance": str(balance)})
