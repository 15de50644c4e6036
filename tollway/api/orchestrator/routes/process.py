"""Job tokens and paid BYOC jobs (reference livepeer-byoc.md 1.5, 1.7, 1.9)."""

from __future__ import annotations

import base64
import json
import time
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Header, Request, Response

from tollway import metrics
from tollway.api.body import read_body
from tollway.api.orchestrator.deps import Services
from tollway.byoc import triton_wire
from tollway.byoc.registry import CapabilityRegistry
from tollway.config import OrchestratorSettings
from tollway.errors import BadJobHeader, BadPayment, CapacityExhausted, WorkerFailed
from tollway.protocol.capability import ExternalCapability
from tollway.protocol.header import JobRequest, verify_eth_address_header
from tollway.protocol.payment import Payment
from tollway.protocol.price import UNIT_HEADER, UNITS_HEADER, Price, billed_units
from tollway.protocol.quote import Quote
from tollway.protocol.token import JobToken

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
    capability = registry.get(livepeer_capability) if known else None
    price = Price(price_per_unit=await services.price_wei(capability, sender) if capability else 0)
    params = await services.recipient.ticket_params(sender, price)
    quote = None
    if capability is not None:
        quote = Quote(
            capability=capability.name,
            price_wei=price.price_per_unit,
            unit=capability.unit,
            gateway=sender,
            orchestrator=services.address,
            expires_at=int(time.time()) + services.prices.settings.quote_ttl_seconds,
        ).signed_by(services.private_key)
        services.ledger.save_quote(sender, capability.name, quote.price_wei, quote.expires_at)
    return JobToken(
        sender_address=json.loads(base64.b64decode(address_header or "")),
        ticket_params=params,
        price=price,
        service_addr=services.settings.service_addr,
        available_capacity=registry.available(livepeer_capability),
        balance=services.ledger.balance_wei(sender, livepeer_capability),
        quote=quote,
    ).to_json()


@router.post("/process/request/{path:path}")
async def process_request(path: str, request: Request, services: Services) -> Response:
    job = JobRequest.decode(request.headers.get("Livepeer"))
    sender = job.verify()
    body = await read_body(request, services.settings.max_body_bytes)
    name = job.capability
    started = time.monotonic()
    try:
        answer, remaining, unit, units = await _serve(services, job, sender, path, body, request)
    except WorkerFailed as exc:
        metrics.CAPABILITY_ERRORS.labels(name, str(exc.details.get("reason", "worker"))).inc()
        raise
    except CapacityExhausted:
        metrics.CAPABILITY_ERRORS.labels(name, "capacity").inc()
        raise
    metrics.CAPABILITY_LATENCY.labels(name).observe(time.monotonic() - started)
    metrics.CAPABILITY_REQUESTS.labels(name, str(answer.status_code)).inc()
    if answer.status_code >= 500:
        metrics.CAPABILITY_ERRORS.labels(name, "container_5xx").inc()
    metrics.JOBS.labels("orchestrator", str(answer.status_code)).inc()
    return _relay(answer, remaining, unit, units)


async def _serve(
    services: Services, job: JobRequest, sender: str, path: str, body: bytes, request: Request
) -> tuple[httpx.Response, int, str, int]:
    """Run the job on a replica; a replica that drops it (connection lost before an answer) is
    quarantined and the job moves to another, so only the requests in flight on a dead replica
    fail over. Only the attempt that answers is billed."""
    settings = services.settings
    registry = services.registry
    paid = False
    dropped_by: list[str] = []
    while True:
        async with registry.wait_slot(
            job.capability, settings.capacity_wait_seconds, settings.capacity_queue, dropped_by
        ) as capability:
            price = Price(price_per_unit=await services.charged_price_wei(capability, sender))
            payment_header = request.headers.get("Livepeer-Payment")
            if payment_header and not paid:
                await _accept_payment(services, payment_header, sender, job.capability)
                paid = True
            minimum = price.cost(min_credit_units(capability.unit, services.settings))
            with services.admit(sender, job.capability, minimum):
                started = time.monotonic()
                try:
                    answer = await _forward(services, capability, path, body, request, job)
                except httpx.TimeoutException as exc:
                    units = billed_units(capability.unit, time.monotonic() - started, None)
                    _bill(services, sender, job.capability, price, units)
                    raise WorkerFailed(
                        f"worker timed out after {job.timeout_seconds} s", reason="timeout"
                    ) from exc
                except httpx.TransportError as exc:
                    registry.quarantine(job.capability, capability.replica)
                    dropped_by.append(capability.replica)
                    if _another_replica(registry, job.capability, dropped_by):
                        metrics.REPLICA_FAILOVERS.labels(job.capability).inc()
                        continue
                    raise WorkerFailed(
                        f"worker unreachable: {exc!r}", reason="unreachable"
                    ) from exc
                except httpx.HTTPError as exc:
                    raise WorkerFailed(f"worker failed: {exc!r}", reason="unreachable") from exc
                units = billed_units(
                    capability.unit, time.monotonic() - started, answer.headers.get(UNITS_HEADER)
                )
                remaining = _bill(services, sender, job.capability, price, units)
                return answer, remaining, capability.unit, units


def _another_replica(registry: CapabilityRegistry, name: str, dropped_by: list[str]) -> bool:
    return any(r.replica not in dropped_by for r in registry.replicas(name))


async def _forward(
    services: Services,
    capability: ExternalCapability,
    path: str,
    body: bytes,
    request: Request,
    job: JobRequest,
) -> httpx.Response:
    if capability.protocol == "triton":
        return await triton_wire.infer(
            services.http, capability.url, capability.name, body, job.timeout_seconds
        )
    url = capability.url.rstrip("/") + (f"/{path}" if path else "")
    headers = {"Content-Type": request.headers.get("Content-Type", "application/octet-stream")}
    if capability.token:
        headers["Authorization"] = f"Bearer {capability.token}"
    return await services.http.post(url, content=body, headers=headers, timeout=job.timeout_seconds)


def _relay(answer: httpx.Response, remaining: int, unit: str, units: int) -> Response:
    headers = {"Livepeer-Balance": str(remaining), UNITS_HEADER: str(units), UNIT_HEADER: unit}
    if "X-Metadata" in answer.headers:
        headers["X-Metadata"] = answer.headers["X-Metadata"]
    return Response(
        answer.content,
        status_code=answer.status_code,
        headers=headers,
        media_type=answer.headers.get("Content-Type", "application/octet-stream"),
    )


def min_credit_units(unit: str, settings: OrchestratorSettings) -> int:
    """Credit a job needs before it starts: go-livepeer's 60 s for second-priced capabilities,
    one request or one frame otherwise."""
    return settings.min_credit_seconds if unit == "second" else 1


def _bill(services: Services, sender: str, capability: str, price: Price, units: int) -> int:
    return services.ledger.debit(sender, capability, price.cost(units))


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
