"""Serving one paid job: admit it, take its payment, run it on a replica, bill what it used.

Apart from the route, so HTTP stays there and the order that matters reads in one place: the
payment is taken once, inside a capacity slot, however many replicas are tried; credit is held
while the job runs; only the attempt that answers is billed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from tollway import metrics
from tollway.api.orchestrator.credit import CreditHolds, min_credit_units
from tollway.api.orchestrator.pricing import Pricing
from tollway.api.orchestrator.winners import WinnerHandOff
from tollway.byoc import triton_wire
from tollway.byoc.registry import CapabilityRegistry
from tollway.config import OrchestratorSettings
from tollway.errors import BadPayment, CapacityExhausted, WorkerFailed
from tollway.payments.ledger import Ledger
from tollway.payments.recipient import TicketRecipient
from tollway.protocol.capability import ExternalCapability
from tollway.protocol.header import JobRequest
from tollway.protocol.payment import Payment
from tollway.protocol.price import UNITS_HEADER, Price, billed_units

__all__ = ["JobServer", "ServedJob"]


@dataclass(frozen=True)
class ServedJob:
    answer: httpx.Response
    """The replica's answer, relayed as it is."""
    balance: int
    """The sender's credit for the capability after this job, in wei."""
    unit: str
    units: int
    """Units billed."""


@dataclass
class JobServer:
    settings: OrchestratorSettings
    registry: CapabilityRegistry
    pricing: Pricing
    credit: CreditHolds
    recipient: TicketRecipient
    ledger: Ledger
    winners: WinnerHandOff
    http: httpx.AsyncClient

    async def serve(
        self,
        job: JobRequest,
        sender: str,
        path: str,
        body: bytes,
        content_type: str,
        payment_header: str | None,
    ) -> ServedJob:
        """Run `job` for `sender` (its verified address) on a replica. A replica that drops it
        (connection lost before an answer) is quarantined and the job moves to another, so only
        the requests in flight on a dead replica fail over."""
        settings = self.settings
        registry = self.registry
        name = job.capability
        started = time.monotonic()
        paid = False
        dropped_by: list[str] = []
        with _errors_counted(name):
            while True:
                async with registry.wait_slot(
                    name, settings.capacity_wait_seconds, settings.capacity_queue, dropped_by
                ) as capability:
                    price = Price(
                        price_per_unit=await self.pricing.charged_price_wei(capability, sender)
                    )
                    if payment_header and not paid:
                        await self._accept_payment(payment_header, sender, name)
                        paid = True
                    minimum = price.cost(min_credit_units(capability.unit, settings))
                    with self.credit.admit(sender, name, minimum):
                        try:
                            served = await self._attempt(
                                capability, price, job, sender, path, body, content_type
                            )
                        except httpx.TransportError as exc:
                            registry.quarantine(name, capability.replica)
                            dropped_by.append(capability.replica)
                            if self._another_replica(name, dropped_by):
                                metrics.REPLICA_FAILOVERS.labels(name).inc()
                                continue
                            raise WorkerFailed(
                                f"worker unreachable: {exc!r}", reason="unreachable"
                            ) from exc
                break
        _count_answer(name, time.monotonic() - started, served.answer.status_code)
        return served

    async def _attempt(
        self,
        capability: ExternalCapability,
        price: Price,
        job: JobRequest,
        sender: str,
        path: str,
        body: bytes,
        content_type: str,
    ) -> ServedJob:
        """Forward the job to one replica and bill what it used. A dropped connection
        (httpx.TransportError) is left to the caller to fail over; it is not billed."""
        started = time.monotonic()
        try:
            answer = await self._forward(capability, path, body, content_type, job)
        except httpx.TimeoutException as exc:
            units = billed_units(capability.unit, time.monotonic() - started, None)
            self._bill(sender, job.capability, price, units)
            raise WorkerFailed(
                f"worker timed out after {job.timeout_seconds} s", reason="timeout"
            ) from exc
        except httpx.TransportError:
            raise  # not the HTTPError below: the caller fails it over
        except httpx.HTTPError as exc:
            raise WorkerFailed(f"worker failed: {exc!r}", reason="unreachable") from exc
        units = billed_units(
            capability.unit, time.monotonic() - started, answer.headers.get(UNITS_HEADER)
        )
        balance = self._bill(sender, job.capability, price, units)
        return ServedJob(answer, balance, capability.unit, units)

    def _another_replica(self, name: str, dropped_by: list[str]) -> bool:
        return any(r.replica not in dropped_by for r in self.registry.replicas(name))

    async def _forward(
        self,
        capability: ExternalCapability,
        path: str,
        body: bytes,
        content_type: str,
        job: JobRequest,
    ) -> httpx.Response:
        if capability.protocol == "triton":
            return await triton_wire.infer(
                self.http, capability.url, capability.name, body, job.timeout_seconds
            )
        url = capability.url.rstrip("/") + (f"/{path}" if path else "")
        headers = {"Content-Type": content_type}
        if capability.token:
            headers["Authorization"] = f"Bearer {capability.token}"
        return await self.http.post(url, content=body, headers=headers, timeout=job.timeout_seconds)

    def _bill(self, sender: str, capability: str, price: Price, units: int) -> int:
        return self.ledger.debit(sender, capability, price.cost(units))

    async def _accept_payment(self, header: str, sender: str, capability: str) -> None:
        try:
            receipt = await self.recipient.receive(Payment.decode(header), sender, capability)
        except BadPayment as exc:
            metrics.TICKETS_REFUSED.labels(str(exc.details.get("field", "payment"))).inc()
            raise
        metrics.TICKETS_RECEIVED.inc(receipt.tickets)
        metrics.TICKET_EV_RECEIVED.inc(receipt.credited_wei)
        if receipt.winners:
            metrics.TICKETS_WON.inc(len(receipt.winners))
            metrics.TICKET_VALUE_WON.inc(sum(w.face_value for w in receipt.winners))
            self.winners.waiting.set()


@contextlib.contextmanager
def _errors_counted(name: str) -> Iterator[None]:
    try:
        yield
    except WorkerFailed as exc:
        metrics.CAPABILITY_ERRORS.labels(name, str(exc.details.get("reason", "worker"))).inc()
        raise
    except CapacityExhausted:
        metrics.CAPABILITY_ERRORS.labels(name, "capacity").inc()
        raise


def _count_answer(name: str, seconds: float, status: int) -> None:
    metrics.CAPABILITY_LATENCY.labels(name).observe(seconds)
    metrics.CAPABILITY_REQUESTS.labels(name, str(status)).inc()
    if status >= 500:
        metrics.CAPABILITY_ERRORS.labels(name, "container_5xx").inc()
    metrics.JOBS.labels("orchestrator", str(status)).inc()
