"""Job tokens and paid BYOC jobs."""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from tollway.api.body import spool_body
from tollway.api.openapi import binary_body, hand_read, header, problems
from tollway.api.orchestrator.deps import Services
from tollway.api.orchestrator.serving import ServedJob
from tollway.errors import (
    BadJobHeader,
    BadPayment,
    BadRequest,
    BadSignature,
    BodyIncomplete,
    BodyTooLarge,
    CapacityExhausted,
    ChainError,
    InsufficientCredit,
    InsufficientSenderReserve,
    JobCanceled,
    NoGpuWorker,
    RequestTimeout,
    RoundNotReady,
    UnknownCapability,
    WorkerFailed,
)
from tollway.protocol.header import JobRequest, job_path, verify_eth_address_header
from tollway.protocol.price import UNIT_HEADER, UNITS_HEADER, Price
from tollway.protocol.token import JobToken
from tollway.store.spool import file_chunks

__all__ = ["LIVEPEER_HEADER", "PAYMENT_HEADER", "job_token", "process_request", "router"]

router = APIRouter()

LIVEPEER_HEADER = header(
    "Livepeer",
    "The job, signed by its gateway: base64 of JSON with `capability`, `timeout_seconds`, "
    "`request`, `parameters`, `id`, `sender` and `sig`.",
    required=True,
)
PAYMENT_HEADER = header(
    "Livepeer-Payment", "Probabilistic micropayment tickets (base64 protobuf), as go-livepeer's."
)
_ETH_ADDRESS_HEADER = header(
    "Livepeer-Eth-Address",
    "The gateway's address and its signature over it: base64 of JSON `{addr, sig}`.",
    required=True,
)
_CAPABILITY_HEADER = header(
    "Livepeer-Capability", "The capability the token prices.", required=True
)
_BALANCE = {
    "description": "The sender's credit left for the capability, in wei.",
    "schema": {"type": "string"},
}
_ANSWER_HEADERS = {
    "Livepeer-Balance": _BALANCE,
    UNIT_HEADER: {"description": "What the job was billed by.", "schema": {"type": "string"}},
    UNITS_HEADER: {"description": "How many units it was billed.", "schema": {"type": "string"}},
    "X-Metadata": {"description": "The container's metadata.", "schema": {"type": "string"}},
}
_ANSWER: dict[str, Any] = {"*/*": {}}
"""Whatever the container answered, in its media type: no schema can say more."""
_SIGNED_JOB_ERRORS = (BadJobHeader, BadSignature)


@router.get(
    "/process/token",
    responses=problems(BadJobHeader, BadSignature, ChainError, InsufficientSenderReserve),
    openapi_extra=hand_read(headers=(_ETH_ADDRESS_HEADER, _CAPABILITY_HEADER)),
)
async def job_token(
    request: Request,
    services: Services,
) -> dict[str, Any]:
    address_header = request.headers.get("Livepeer-Eth-Address")
    sender = verify_eth_address_header(address_header)
    livepeer_capability = request.headers.get("Livepeer-Capability")
    if not livepeer_capability:
        raise BadJobHeader("missing Livepeer-Capability header", field="Livepeer-Capability")
    registry = services.registry
    pricing = services.pricing
    known = livepeer_capability in registry.names()
    capability = registry.get(livepeer_capability) if known else None
    price = Price(price_per_unit=await pricing.price_wei(capability, sender) if capability else 0)
    try:
        params = await services.recipient.ticket_params(sender, price)
    except RoundNotReady:
        if price.price_per_unit:
            raise
        params = None  # free work needs no tickets
    quote = pricing.quote(capability, sender, price.price_per_unit) if capability else None
    return JobToken(
        sender_address=json.loads(base64.b64decode(address_header or "")),
        ticket_params=params,
        price=price,
        service_addr=services.settings.service_addr,
        available_capacity=registry.available(livepeer_capability),
        balance=services.ledger.balance_wei(sender, livepeer_capability),
        quote=quote,
    ).to_json()


@router.post(
    "/process/request/{path:path}",
    response_class=Response,
    responses={
        200: {
            "description": "The container's answer, in its own media type (server-sent events "
            "relayed as they arrive).",
            "content": _ANSWER,
            "headers": _ANSWER_HEADERS,
        },
        "4XX": {
            "description": "The container refused the request: its answer, relayed.",
            "content": _ANSWER,
            "headers": _ANSWER_HEADERS,
        },
        **problems(
            *_SIGNED_JOB_ERRORS,
            BadRequest,
            BadPayment,
            InsufficientCredit,
            BodyIncomplete,
            BodyTooLarge,
            RequestTimeout,
            JobCanceled,
            WorkerFailed,
            UnknownCapability,
            CapacityExhausted,
            NoGpuWorker,
            ChainError,
        ),
    },
    openapi_extra=hand_read(
        binary_body("The request for the container, passed on as is."),
        (LIVEPEER_HEADER, PAYMENT_HEADER),
    ),
)
async def process_request(path: str, request: Request, services: Services) -> Response:
    job = JobRequest.decode(request.headers.get("Livepeer"))
    sender = job.verify()
    settings = services.settings
    body = await spool_body(
        request,
        settings.max_body_bytes,
        settings.body_read_timeout_seconds,
        services.jobs.files.request(),
    )
    served = await services.jobs.serve(
        job,
        sender,
        job_path(path),
        body,
        content_type=request.headers.get("Content-Type", "application/octet-stream"),
        payment_header=request.headers.get("Livepeer-Payment"),
    )
    return _relay(served)


@router.post(
    "/process/cancel",
    responses=problems(*_SIGNED_JOB_ERRORS),
    openapi_extra=hand_read(headers=(LIVEPEER_HEADER,)),
)
async def cancel_job(request: Request, services: Services) -> dict[str, Any]:
    """Stop a job its gateway no longer wants (tollway's, beside go-livepeer's protocol): the
    signed `Livepeer` header names it by `id`; the time it ran is billed, and a retry of its id
    gets 409 `JobCanceled`. `canceled` is false when it was not running."""
    job = JobRequest.decode(request.headers.get("Livepeer"))
    sender = job.verify()
    if not job.id:
        raise BadJobHeader("a cancel names the job by its id", field="id")
    outcome = await services.jobs.cancel(sender, job.id, job.capability)
    return {
        "canceled": outcome.canceled,
        "units": outcome.units,
        "cost_wei": str(outcome.cost_wei),
        "balance_wei": str(outcome.balance),
    }


def _relay(served: ServedJob) -> Response:
    headers = {"Livepeer-Balance": str(served.balance), UNIT_HEADER: served.unit}
    if served.metadata is not None:
        headers["X-Metadata"] = served.metadata
    if served.events is not None:  # billed when it ends: no units yet
        return StreamingResponse(
            served.events,
            status_code=served.status_code,
            headers={**headers, "Cache-Control": "no-cache"},
            media_type=served.content_type,
        )
    headers[UNITS_HEADER] = str(served.units)
    if served.body_file is not None:
        path = served.body_file
        return StreamingResponse(
            file_chunks(path),
            status_code=served.status_code,
            headers={**headers, "Content-Length": str(path.stat().st_size)},
            media_type=served.content_type,
            background=BackgroundTask(path.unlink) if served.remove_after_relay else None,
        )
    return Response(
        served.body,
        status_code=served.status_code,
        headers=headers,
        media_type=served.content_type,
    )
