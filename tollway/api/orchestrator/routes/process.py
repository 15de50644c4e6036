"""Job tokens and paid BYOC jobs (reference livepeer-byoc.md 1.5, 1.7, 1.9)."""

from __future__ import annotations

import base64
import json
import math
import time
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Header, Request, Response

from tollway import metrics
from tollway.api.body import read_body
from tollway.api.orchestrator.deps import Services
from tollway.byoc.header import JobRequest, verify_eth_address_header
from tollway.byoc.registry import ExternalCapability
from tollway.errors import BadJobHeader, BadPayment, WorkerFailed
from tollway.payments.wire import Payment, Price

router = APIRouter()


@router.get("/process/token")
async def job_token(
    request: Request,
    services: Services,
    livepeer_capability: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    address_header = request.headers.get("Livepeer-Eth-Address")
    sender = verify_eth_address_header(address_header)
    if not livepeer_capability:
        raise BadJobHeader("missing Livepeer-Capability header", field="Livepeer-Capability")
    registry = services.registry
    known = livepeer_capability in registry.names()
    price = Price(
        price_per_unit=registry.get(livepeer_capability).price_wei_per_second if known else 0
    )
    params = await services.recipient.ticket_params(sender, price)
    token: dict[str, Any] = {
        "sender_address": json.loads(base64.b64decode(address_header or "")),
        "ticket_params": params.to_json(),
        "price": price.to_json(),
        "service_addr": services.settings.service_addr,
        "available_capacity": registry.available(livepeer_capability),
    }
    balance = services.ledger.balance_wei(sender, livepeer_capability)
    if balance:
        token["balance"] = balance
    return token


@router.post("/process/request/{path:path}")
async def process_request(path: str, request: Request, services: Services) -> Response:
    job = JobRequest.decode(request.headers.get("Livepeer"))
    sender = job.verify()
    body = await read_body(request, services.settings.max_body_bytes)
    with services.registry.slot(job.capability) as capability:
        price = Price(price_per_unit=capability.price_wei_per_second)
        payment_header = request.headers.get("Livepeer-Payment")
        if payment_header:
            await _accept_payment(services, payment_header, sender, job.capability)
        minimum = price.cost(services.settings.min_credit_seconds)
        with services.admit(sender, job.capability, minimum):
            started = time.monotonic()
            try:
                answer = await _forward(services, capability, path, body, request, job)
            except httpx.TimeoutException as exc:
                _bill(services, sender, job.capability, price, time.monotonic() - started)
                raise WorkerFailed(f"worker timed out after {job.timeout_seconds} s") from exc
            except httpx.HTTPError as exc:
                raise WorkerFailed(f"worker unreachable: {exc!r}") from exc
            remaining = _bill(services, sender, job.capability, price, time.monotonic() - started)
    metrics.JOBS.labels("orchestrator", str(answer.status_code)).inc()
    return _relay(answer, remaining)


async def _forward(
    services: Services,
    capability: ExternalCapability,
    path: str,
    body: bytes,
    request: Request,
    job: JobRequest,
) -> httpx.Response:
    url = capability.url.rstrip("/") + (f"/{path}" if path else "")
    headers = {"Content-Type": request.headers.get("Content-Type", "application/octet-stream")}
    if capability.token:
        headers["Authorization"] = f"Bearer {capability.token}"
    return await services.http.post(url, content=body, headers=headers, timeout=job.timeout_seconds)


def _relay(answer: httpx.Response, remaining: int) -> Response:
    headers = {"Livepeer-Balance": str(remaining)}
    if "X-Metadata" in answer.headers:
        headers["X-Metadata"] = answer.headers["X-Metadata"]
    return Response(
        answer.content,
        status_code=answer.status_code,
        headers=headers,
        media_type=answer.headers.get("Content-Type", "application/octet-stream"),
    )


def _bill(services: Services, sender: str, capability: str, price: Price, seconds: float) -> int:
    return services.ledger.debit(sender, capability, price.cost(max(1, math.ceil(seconds))))


async def _accept_payment(services: Services, header: str, sender: str, capability: str) -> None:
    try:
        receipt = await services.recipient.receive(Payment.decode(header), sender, capability)
    except BadPayment as exc:
        metrics.TICKETS_REFUSED.labels(str(exc.details.get("field", "payment"))).inc()
        raise
    metrics.TICKETS_RECEIVED.inc(receipt.tickets)
    metrics.TICKET_EV_RECEIVED.inc(receipt.credited_wei)
    if receipt.winners:
        metrics.TICKETS_WON.inc(len(receipt.winners))
        metrics.TICKET_VALUE_WON.inc(sum(w.face_value for w in receipt.winners))
        services.winners_waiting.set()
