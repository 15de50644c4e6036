"""Serving one paid job: admit it, take its payment, run it on a replica, bill what it used.

Apart from the route, so HTTP stays there and the order that matters reads in one place: the
payment is taken once, inside a capacity slot, however many replicas are tried; credit is held
while the job runs; only the attempt that answers is billed.

A job that carries an id (a tollway gateway's job id, in the signed header) runs and is charged
at most once: a retry while it runs joins it, a retry after it was charged gets the answer kept
with the charge (for `job_answer_ttl_seconds`), and new tickets on a retry are credited as ever.
A retry that brings the very payment already credited with its job id (this orchestrator
restarted before answering) is not refused as a replay: that payment is simply not paid again.

A replica that answers server-sent events (`text/event-stream`) is relayed as it writes: the
caller gets the answer's head and its events as they come, and the job is billed by its time
when the stream ends. Every other answer is read whole, then relayed. Bodies larger than a
spool's memory limit (requests and answers alike) pass through files, never all in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from tollway import metrics
from tollway.api.orchestrator.bodies import BodyFiles
from tollway.api.orchestrator.credit import CreditHolds, min_credit_units
from tollway.api.orchestrator.pricing import Pricing
from tollway.api.orchestrator.winners import WinnerHandOff
from tollway.byoc import triton_wire
from tollway.byoc.registry import CapabilityRegistry
from tollway.config import OrchestratorSettings
from tollway.errors import BadPayment, CapacityExhausted, JobCanceled, WorkerFailed
from tollway.netutil import is_event_stream
from tollway.payments.ledger import ChargedJob, JobPayment, Ledger
from tollway.payments.recipient import TicketRecipient
from tollway.protocol.capability import ExternalCapability
from tollway.protocol.header import JobRequest
from tollway.protocol.payment import Payment
from tollway.protocol.price import UNITS_HEADER, Price, billed_units
from tollway.store.spool import Spool

__all__ = ["CancelOutcome", "JobServer", "ServedJob"]

CANCELED = "canceled"
"""The reason kept with the charge of a job its gateway canceled."""


@dataclass(frozen=True)
class ServedJob:
    """The replica's answer, relayed as it is, and what it cost."""

    status_code: int
    body: bytes
    content_type: str
    metadata: str | None
    balance: int
    """The sender's credit for the capability after this job, in wei."""
    unit: str
    units: int
    """Units billed."""
    events: AsyncIterator[bytes] | None = None
    """A live answer's body, as the replica writes it (`body` is then empty, and `units` and
    `balance` are those before the stream was billed)."""
    body_file: Path | None = None
    """A large answer's file (`body` is then empty)."""
    remove_after_relay: bool = False
    """`body_file` is no kept answer: remove it once relayed."""

    def kept(self, job_id: str, payment: str) -> ChargedJob:
        outcome = {
            "status_code": self.status_code,
            "content_type": self.content_type,
            "metadata": self.metadata,
            "unit": self.unit,
            "units": self.units,
            "payment": payment,
            "file": self.body_file.name if self.body_file else None,
        }
        return ChargedJob(job_id, json.dumps(outcome), self.body)


@dataclass(frozen=True)
class CancelOutcome:
    """What a cancel did: whether the job was still running, and what its run was billed."""

    canceled: bool
    units: int = 0
    cost_wei: int = 0
    balance: int = 0


@dataclass
class _Running:
    """A job id being served: retries wait for `answer`; `payment` is the digest of the
    payment it came with, which a retry carrying the same tickets must not pay again."""

    answer: asyncio.Task[ServedJob]
    payment: str


def _digest(payment_header: str | None) -> str:
    return hashlib.sha256((payment_header or "").encode()).hexdigest()


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
    files: BodyFiles
    _running: dict[tuple[str, str], _Running] = field(default_factory=dict)
    _canceled: dict[tuple[str, str], float] = field(default_factory=dict)
    """Job ids canceled before they arrived (a cancel can overtake its request), and when."""

    async def serve(
        self,
        job: JobRequest,
        sender: str,
        path: str,
        body: Spool,
        content_type: str,
        payment_header: str | None,
    ) -> ServedJob:
        """Run `job` for `sender` (its verified address) on a replica, or answer a retry of a job
        id this orchestrator runs or has charged (see the module's docstring). `body` is
        discarded once the job no longer needs it."""
        key = (sender, job.id)
        if job.id and key in self._canceled:
            body.discard()
            raise JobCanceled(f"job {job.id} was canceled by its gateway", job_id=job.id)
        if job.id:
            try:
                again = await self._again(key, job, payment_header)
            except BaseException:
                body.discard()
                raise
            if again is not None:
                body.discard()
                return again
        live: asyncio.Future[ServedJob] = asyncio.get_running_loop().create_future()
        # A task of its own: a client that hangs up does not stop a job (a retry will join it,
        # and what it used is billed).
        answer = asyncio.create_task(
            self._serve(job, sender, path, body, content_type, payment_header, live)
        )
        if job.id:
            self._running[key] = _Running(answer, _digest(payment_header))
            answer.add_done_callback(lambda _: self._running.pop(key, None))
        answer.add_done_callback(_retrieved)
        answer.add_done_callback(lambda _: body.discard())
        # The live head as soon as it is in, else the whole answer.
        await asyncio.wait({answer, live}, return_when=asyncio.FIRST_COMPLETED)
        if live.done():
            return live.result()
        if answer.cancelled():
            raise JobCanceled(f"job {job.id} was canceled by its gateway", job_id=job.id)
        return answer.result()

    async def cancel(self, sender: str, job_id: str, capability: str) -> CancelOutcome:
        """Stop `sender`'s job `job_id` if it runs: its request to the replica is dropped (a
        replica stops work whose client left) and the time it ran is billed."""
        running = self._running.get((sender, job_id))
        if running is None:
            # Not here (yet): should its request still come, it is refused.
            now = time.time()
            forget = now - self.settings.job_answer_ttl_seconds
            for old in [k for k, at in self._canceled.items() if at < forget]:
                del self._canceled[old]
            self._canceled[(sender, job_id)] = now
            return CancelOutcome(False, balance=self.ledger.balance_wei(sender, capability))
        running.answer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await running.answer
        since = time.time() - self.settings.job_answer_ttl_seconds
        kept = self.ledger.charged_job(sender, job_id, since)
        outcome = json.loads(kept.outcome) if kept is not None else {}
        return CancelOutcome(
            True,
            units=int(outcome.get("units", 0)),
            cost_wei=int(outcome.get("cost_wei", 0)),
            balance=self.ledger.balance_wei(sender, capability),
        )

    async def _again(
        self, key: tuple[str, str], job: JobRequest, payment_header: str | None
    ) -> ServedJob | None:
        """The answer to a retry of a job id that runs now or was charged, None otherwise."""
        sender, job_id = key
        running = self._running.get(key)
        kept = None
        if running is None:
            since = time.time() - self.settings.job_answer_ttl_seconds
            kept = self.ledger.charged_job(sender, job_id, since)
            if kept is None:
                return None
        outcome = json.loads(kept.outcome) if kept is not None else {}
        first_payment = running.payment if running is not None else outcome["payment"]
        if payment_header and _digest(payment_header) != first_payment:
            await self.accept_payment(payment_header, sender, job)
        metrics.JOBS_ANSWERED_AGAIN.inc()
        if running is not None:
            served = await asyncio.shield(running.answer)
            return replace(served, balance=self.ledger.balance_wei(sender, job.capability))
        assert kept is not None
        if outcome.get("reason") == CANCELED:
            raise JobCanceled(outcome["error"], job_id=job_id)
        if "error" in outcome:
            raise WorkerFailed(outcome["error"], reason=outcome["reason"])
        file = outcome.get("file")
        return ServedJob(
            status_code=outcome["status_code"],
            body=kept.body,
            body_file=self.files.answer_path(file) if file else None,
            content_type=outcome["content_type"],
            metadata=outcome["metadata"],
            balance=self.ledger.balance_wei(sender, job.capability),
            unit=outcome["unit"],
            units=outcome["units"],
        )

    async def _serve(
        self,
        job: JobRequest,
        sender: str,
        path: str,
        body: Spool,
        content_type: str,
        payment_header: str | None,
        live: asyncio.Future[ServedJob],
    ) -> ServedJob:
        """Run `job` on a replica. A replica that drops it (connection lost before an answer) is
        quarantined and the job moves to another, so only the requests in flight on a dead
        replica fail over."""
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
                        await self.accept_payment(payment_header, sender, job)
                        paid = True
                    minimum = price.cost(min_credit_units(capability.unit, settings))
                    with self.credit.admit(sender, name, minimum):
                        try:
                            served = await self._attempt(
                                capability,
                                price,
                                job,
                                sender,
                                path,
                                body,
                                content_type,
                                _digest(payment_header),
                                live,
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
        _count_answer(name, time.monotonic() - started, served.status_code)
        return served

    async def _attempt(
        self,
        capability: ExternalCapability,
        price: Price,
        job: JobRequest,
        sender: str,
        path: str,
        body: Spool,
        content_type: str,
        payment: str,
        live: asyncio.Future[ServedJob],
    ) -> ServedJob:
        """Forward the job to one replica and bill what it used (keeping the answer with the
        charge when the job has an id). A dropped connection (httpx.TransportError) before the
        answer's head is left to the caller to fail over; it is not billed."""
        started = time.monotonic()
        content = self.files.answer()
        try:
            answer = await self._forward(capability, path, body, content_type, job)
            try:
                if is_event_stream(answer.status_code, answer.headers.get("Content-Type", "")):
                    balance = self.ledger.balance_wei(sender, job.capability)
                    head = _head(answer, capability, balance)
                    until = started + job.timeout_seconds
                    await _relay_events(answer, head, live, until, content)
                else:
                    async for chunk in answer.aiter_bytes():
                        content.write(chunk)
            finally:
                content.close()
                await answer.aclose()
        except BaseException as exc:
            content.discard()
            if isinstance(exc, asyncio.CancelledError) and job.id:
                # Canceled by its gateway: the replica's request is dropped; its time is billed.
                units = billed_units(capability.unit, time.monotonic() - started, None)
                cost = price.cost(units)
                outcome = {
                    "error": f"job {job.id} was canceled by its gateway",
                    "reason": CANCELED,
                    "payment": payment,
                    "units": units,
                    "cost_wei": cost,
                }
                self._bill(
                    sender,
                    job.capability,
                    price,
                    units,
                    ChargedJob(job.id, json.dumps(outcome), b""),
                )
                raise
            if isinstance(exc, httpx.TimeoutException):
                units = billed_units(capability.unit, time.monotonic() - started, None)
                failure = WorkerFailed(
                    f"worker timed out after {job.timeout_seconds} s", reason="timeout"
                )
                outcome = {"error": failure.message, "reason": "timeout", "payment": payment}
                kept = ChargedJob(job.id, json.dumps(outcome), b"") if job.id else None
                self._bill(sender, job.capability, price, units, kept)
                raise failure from exc
            if isinstance(exc, httpx.HTTPError) and not isinstance(exc, httpx.TransportError):
                # A TransportError goes to the caller, which fails the job over.
                raise WorkerFailed(f"worker failed: {exc!r}", reason="unreachable") from exc
            raise
        units = billed_units(
            capability.unit, time.monotonic() - started, answer.headers.get(UNITS_HEADER)
        )
        served = replace(
            _head(answer, capability, 0),
            body=content.in_memory() or b"",
            body_file=content.path,
            remove_after_relay=not job.id,
            units=units,
        )
        kept = served.kept(job.id, payment) if job.id else None
        balance = self._bill(sender, job.capability, price, units, kept)
        return replace(served, balance=balance)

    def _another_replica(self, name: str, dropped_by: list[str]) -> bool:
        return any(r.replica not in dropped_by for r in self.registry.replicas(name))

    async def _forward(
        self,
        capability: ExternalCapability,
        path: str,
        body: Spool,
        content_type: str,
        job: JobRequest,
    ) -> httpx.Response:
        if capability.protocol == "triton":  # its JSON is read whole anyway
            whole = body.in_memory()
            if whole is None:
                assert body.path is not None
                whole = body.path.read_bytes()
            return await triton_wire.infer(
                self.http, capability.url, capability.name, whole, job.timeout_seconds
            )
        url = capability.url.rstrip("/") + (f"/{path}" if path else "")
        headers = {"Content-Type": content_type, "Content-Length": str(body.size)}
        if capability.token:
            headers["Authorization"] = f"Bearer {capability.token}"
        request = self.http.build_request(
            "POST", url, content=body.chunks(), headers=headers, timeout=job.timeout_seconds
        )
        return await self.http.send(request, stream=True)

    def _bill(
        self, sender: str, capability: str, price: Price, units: int, kept: ChargedJob | None
    ) -> int:
        forget_before = time.time() - self.settings.job_answer_ttl_seconds
        if kept is not None:
            self.files.sweep()
        return self.ledger.debit(sender, capability, price.cost(units), kept, forget_before)

    async def accept_payment(self, header: str, sender: str, job: JobRequest) -> None:
        """Credit `header`'s tickets to `sender` (once per job id and payment: see above)."""
        paid_for = None
        if job.id:
            forget_before = time.time() - self.settings.job_answer_ttl_seconds
            paid_for = JobPayment(job.id, _digest(header), forget_before)
            if self.ledger.paid_for_job(sender, paid_for):
                metrics.PAYMENTS_SEEN_AGAIN.inc()
                return
        try:
            receipt = await self.recipient.receive(
                Payment.decode(header), sender, job.capability, paid_for
            )
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


def _head(answer: httpx.Response, capability: ExternalCapability, balance: int) -> ServedJob:
    """The answer as far as its head tells: no body, nothing billed yet."""
    return ServedJob(
        status_code=answer.status_code,
        body=b"",
        content_type=answer.headers.get("Content-Type", "application/octet-stream"),
        metadata=answer.headers.get("X-Metadata"),
        balance=balance,
        unit=capability.unit,
        units=0,
    )


async def _relay_events(
    answer: httpx.Response,
    head: ServedJob,
    live: asyncio.Future[ServedJob],
    until: float,
    content: Spool,
) -> None:
    """Hand `live` the head and the events as they arrive, writing the whole stream to
    `content` until it ends (the replica closed it, dropped it, or the job's time ran out)."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def events() -> AsyncIterator[bytes]:
        while (chunk := await queue.get()) is not None:
            yield chunk

    live.set_result(replace(head, events=events()))
    try:
        async for chunk in answer.aiter_bytes():
            content.write(chunk)
            queue.put_nowait(chunk)
            if time.monotonic() > until:
                break
    except httpx.TransportError:
        pass  # the head went out already: the stream ends here, billed for its time
    finally:
        queue.put_nowait(None)


def _retrieved(answer: asyncio.Task[ServedJob]) -> None:
    """Every caller sees the task's failure through its own shield: not an asyncio warning."""
    if not answer.cancelled():
        answer.exception()


def _count_answer(name: str, seconds: float, status: int) -> None:
    metrics.CAPABILITY_LATENCY.labels(name).observe(seconds)
    metrics.CAPABILITY_REQUESTS.labels(name, str(status)).inc()
    if status >= 500:
        metrics.CAPABILITY_ERRORS.labels(name, "container_5xx").inc()
    metrics.JOBS.labels("orchestrator", str(status)).inc()
