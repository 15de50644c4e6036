"""Live streams on this orchestrator (go-livepeer's BYOC streams): a start takes a slot of the
capability, needs credit for `min_credit_seconds` at the quoted price (402 otherwise), opens the
stream's trickle channels and starts the container on them; the stream is debited every
`stream_debit_seconds` and stopped when its credit stays negative for a second debit. A stop is
never refused, whatever the balance, and always frees the slot and closes the channels.

Streams live in this process's memory: after a restart none runs here, and the gateway's
stream moves on (its workflow swaps orchestrators).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tollway import metrics
from tollway.api.orchestrator.pricing import Pricing
from tollway.api.orchestrator.serving import JobServer
from tollway.byoc.registry import CapabilityRegistry
from tollway.config import OrchestratorSettings
from tollway.errors import BadRequest, NotFound, PaymentRequired, StreamStopped, WorkerFailed
from tollway.payments.ledger import Ledger
from tollway.protocol.capability import ExternalCapability
from tollway.protocol.header import JobRequest
from tollway.protocol.price import Price
from tollway.protocol.stream import StreamChannels, StreamOptions, stream_id_of
from tollway.streams.trickle import Channels

__all__ = ["LiveStream", "StreamServer"]

log = logging.getLogger("tollway.streams")
STOPPED_KEPT = 4096
"""Stopped streams remembered, so that a late update is told "stopped", not "unknown"."""


@dataclass
class LiveStream:
    stream_id: str
    sender: str
    capability: str
    replica: ExternalCapability
    price: Price
    channels: StreamChannels
    slot: contextlib.ExitStack
    started: float = field(default_factory=time.monotonic)
    billed_seconds: int = 0
    overdrawn: bool = False
    debits: asyncio.Task[None] | None = None


@dataclass
class StreamServer:
    settings: OrchestratorSettings
    registry: CapabilityRegistry
    pricing: Pricing
    ledger: Ledger
    jobs: JobServer
    trickle: Channels
    http: httpx.AsyncClient
    streams: dict[str, LiveStream] = field(default_factory=dict)
    stopped: dict[str, str] = field(default_factory=dict)
    """Why each recently stopped stream stopped, by id."""

    def client_url(self, channel: str) -> str:
        """`channel` as a gateway reaches it: at this orchestrator's public address."""
        return f"{self.settings.service_addr.rstrip('/')}/ai/trickle/{channel}"

    def worker_url(self, stream: LiveStream, channel: str) -> str:
        """`channel` as the stream's replica reaches it: through its GPU worker's bridge, or
        at the address configured for workers."""
        base = (
            stream.replica.trickle_url
            or self.settings.trickle_url_for_workers
            or self.settings.service_addr
        )
        return f"{base.rstrip('/')}/ai/trickle/{channel}"

    async def start(
        self, job: JobRequest, sender: str, payment_header: str | None, params: dict[str, Any]
    ) -> tuple[LiveStream, int]:
        """Start the stream `job` asks for; the stream and the sender's balance after paying."""
        capability = self.registry.get(job.capability)
        if capability.unit != "second":
            raise BadRequest(
                f"capability {job.capability!r} is priced per {capability.unit}: a stream is "
                "billed by the second",
                field="capability",
            )
        stream_id = stream_id_of(job.request) or job.id
        if not stream_id:
            raise BadRequest("a stream needs request.stream_id or a job id", field="request")
        self._not_running(stream_id)
        options = StreamOptions.parse(job.parameters)
        if payment_header:
            await self.jobs.accept_payment(payment_header, sender, job)
        price = Price(price_per_unit=await self.pricing.charged_price_wei(capability, sender))
        balance = self.ledger.balance_wei(sender, job.capability)
        needed = price.cost(self.settings.min_credit_seconds)
        if balance < needed:
            raise PaymentRequired(
                f"credit {balance} wei is below the {needed} wei a stream needs to start "
                f"({self.settings.min_credit_seconds} s at {price.price_per_unit} wei/s)",
                balance=balance,
                required=needed,
            )
        self._not_running(stream_id)  # again: another start may have come in meanwhile
        slot = contextlib.ExitStack()
        replica = slot.enter_context(self.registry.slot(job.capability))
        channels = StreamChannels.of(stream_id, options)
        stream = LiveStream(stream_id, sender, job.capability, replica, price, channels, slot)
        for name in channels.names():
            mime = (
                "video/MP2T" if name in (channels.ingress, channels.egress) else "application/json"
            )
            self.trickle.create(name, mime)
        self.streams[stream_id] = stream
        self.stopped.pop(stream_id, None)
        try:
            await self._start_container(stream, job, params)
        except BaseException:
            await self._end(stream, "the container did not start", bill=False)
            raise
        stream.debits = asyncio.create_task(self._debit_forever(stream))
        metrics.STREAMS_ACTIVE.set(len(self.streams))
        return stream, balance

    def _not_running(self, stream_id: str) -> None:
        if stream_id in self.streams:
            raise BadRequest(f"stream {stream_id!r} runs already", field="request")

    async def _start_container(
        self, stream: LiveStream, job: JobRequest, params: dict[str, Any]
    ) -> None:
        channels = stream.channels
        body: dict[str, Any] = {
            "gateway_request_id": stream.stream_id,
            "stream_id": stream.stream_id,
            "control_url": self.worker_url(stream, channels.control),
            "events_url": self.worker_url(stream, channels.events),
            "params": params,
        }
        if channels.ingress:
            body["subscribe_url"] = self.worker_url(stream, channels.ingress)
        if channels.egress:
            body["publish_url"] = self.worker_url(stream, channels.egress)
        if channels.data:
            body["data_url"] = self.worker_url(stream, channels.data)
        answer = await self._call(stream, "/stream/start", body, job.timeout_seconds)
        if answer.status_code >= 400:
            raise WorkerFailed(
                f"the container refused /stream/start: {answer.status_code} {answer.text[:300]}",
                reason="stream_start",
            )

    async def _call(
        self, stream: LiveStream, path: str, body: dict[str, Any], timeout: float
    ) -> httpx.Response:
        headers = {"X-Stream-Id": stream.stream_id}
        if stream.replica.token:
            headers["Authorization"] = f"Bearer {stream.replica.token}"
        url = stream.replica.url.rstrip("/") + path
        try:
            return await self.http.post(url, json=body, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:
            raise WorkerFailed(f"the container did not answer {path}: {exc!r}") from exc

    def running(self, stream_id: str, sender: str) -> LiveStream:
        """The sender's running stream `stream_id`: NotFound, or StreamStopped with the reason."""
        stream = self.streams.get(stream_id)
        if stream is not None and stream.sender == sender:
            return stream
        if stream is None and stream_id in self.stopped:
            raise StreamStopped(f"stream {stream_id!r} was stopped: {self.stopped[stream_id]}")
        raise NotFound(f"no stream {stream_id!r}")

    async def update(self, stream_id: str, sender: str, params: dict[str, Any]) -> None:
        stream = self.running(stream_id, sender)
        answer = await self._call(stream, "/stream/params", params, 10)
        if answer.status_code >= 400:
            raise WorkerFailed(
                f"the container refused /stream/params: {answer.status_code} {answer.text[:300]}"
            )

    async def stop(self, stream_id: str, sender: str, body: dict[str, Any]) -> bool:
        """Stop the stream (never refused for want of credit); False when it was stopped
        already."""
        try:
            stream = self.running(stream_id, sender)
        except StreamStopped:
            return False
        with contextlib.suppress(WorkerFailed):
            await self._call(stream, "/stream/stop", body, 10)
        await self._end(stream, "stopped on request")
        return True

    async def _end(self, stream: LiveStream, reason: str, bill: bool = True) -> None:
        """Bill what is left (unless it never ran), close the channels, free the slot; every
        path ends here once."""
        if self.streams.pop(stream.stream_id, None) is None:
            return
        self.stopped[stream.stream_id] = reason
        while len(self.stopped) > STOPPED_KEPT:
            self.stopped.pop(next(iter(self.stopped)))
        if stream.debits is not None and stream.debits is not asyncio.current_task():
            stream.debits.cancel()
        if bill:
            self._debit(stream, final=True)
        for name in stream.channels.names():
            await self.trickle.close(name)
        stream.slot.close()
        metrics.STREAMS_ACTIVE.set(len(self.streams))
        self._count_overdrawn()
        log.info("stream %s ended: %s", stream.stream_id, reason)

    def _debit(self, stream: LiveStream, final: bool = False) -> int:
        """Charge the seconds streamed since the last debit (all begun seconds when `final`);
        the balance after."""
        elapsed = time.monotonic() - stream.started
        seconds = int(-(-elapsed // 1)) if final else int(elapsed)
        due = seconds - stream.billed_seconds
        if due <= 0:
            return self.ledger.balance_wei(stream.sender, stream.capability)
        stream.billed_seconds = seconds
        cost = stream.price.cost(due)
        metrics.STREAM_DEBITED.labels(stream.capability).inc(cost)
        return self.ledger.debit(stream.sender, stream.capability, cost)

    async def _debit_forever(self, stream: LiveStream) -> None:
        while True:
            await asyncio.sleep(self.settings.stream_debit_seconds)
            balance = self._debit(stream)
            if balance >= 0:
                stream.overdrawn = False
                self._count_overdrawn()
                continue
            if stream.overdrawn:  # negative at two debits in a row: the gateway stopped paying
                with contextlib.suppress(WorkerFailed):
                    await self._call(stream, "/stream/stop", {}, 10)
                await self._end(stream, f"credit ran out ({balance} wei)")
                return
            stream.overdrawn = True
            self._count_overdrawn()
            log.warning("stream %s is %d wei in debt", stream.stream_id, -balance)

    def _count_overdrawn(self) -> None:
        metrics.STREAMS_OVERDRAWN.set(sum(s.overdrawn for s in self.streams.values()))

    async def close(self) -> None:
        """Stop every stream (the orchestrator is shutting down)."""
        for stream in list(self.streams.values()):
            with contextlib.suppress(WorkerFailed):
                await self._call(stream, "/stream/stop", {}, 5)
            await self._end(stream, "the orchestrator shut down")
