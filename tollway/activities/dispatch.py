"""Dispatch: send the signed, paid job to one orchestrator and keep its answer as an artifact.

Each outcome feeds the market: a success records the job's latency, a transport error or a 5xx
counts against the orchestrator's circuit breaker and success rate; a 503 ("not now": busy,
restarting, the chain away) is transient and counts against nobody.

The activity heartbeats while it waits, so a gateway worker that dies is noticed within the
workflow's heartbeat timeout and the dispatch is retried elsewhere with the same job id (the
orchestrator runs and charges a job id once). Every attempt is bounded by the job's deadline.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import BaseModel
from temporalio import activity

from tollway import metrics
from tollway.activities.heartbeat import heartbeating
from tollway.activities.job import JobSpec
from tollway.errors import (
    BadRequest,
    DeadlinePassed,
    InsufficientCredit,
    OrchestratorBusy,
    OrchestratorFailed,
    OrchestratorUnreachable,
    TicketParamsExpired,
    TollwayError,
    to_application_error,
)
from tollway.market.breaker import FailureKind
from tollway.market.selection import Candidate
from tollway.market.store import MarketStore
from tollway.market.tokens import RecentTokens
from tollway.netutil import is_event_stream
from tollway.payments.spend import SpendLedger
from tollway.protocol.header import JobRequest
from tollway.protocol.price import UNITS_HEADER
from tollway.schemas.jobs import DispatchOutcome
from tollway.store.artifacts import ArtifactStore
from tollway.store.jobs import JobIndex
from tollway.store.live import LiveHead, LiveOutputs

__all__ = [
    "HEARTBEAT_SECONDS",
    "CancelAnswer",
    "CancelInput",
    "DispatchActivities",
    "DispatchInput",
]

HEARTBEAT_SECONDS = 1.0


class DispatchInput(BaseModel):
    spec: JobSpec
    candidate: Candidate
    payment_header: str | None
    deadline: float
    """When the job's time is up (epoch seconds): the orchestrator gets what is left of it."""


class CancelInput(BaseModel):
    job_id: str
    capability: str
    orchestrator: str


class CancelAnswer(BaseModel):
    """What the orchestrator said of a cancel: whether the job still ran, and what the time it
    ran cost."""

    canceled: bool
    units: int = 0
    cost_wei: int = 0


ERROR_BYTES = 64 * 1024
"""The most of a refusal's body read: enough for any message."""
CANCEL_TIMEOUT_SECONDS = 30.0


async def _error_text(response: httpx.Response) -> str:
    read = bytearray()
    async for chunk in response.aiter_bytes():
        read += chunk
        if len(read) >= ERROR_BYTES:
            break
    return read[:ERROR_BYTES].decode(errors="replace")


def _ask_again(text: str) -> type[TollwayError] | None:
    """The refusal that a fresh token answers: go-livepeer treats expired ticket params as
    "refresh and retry", not a client error (the payment was refused, nothing credited); so
    does tollway a refusal for want of credit (a reused token's balance was behind; the payment
    was credited)."""
    try:
        answer = json.loads(text)
    except ValueError:
        return TicketParamsExpired if "ticketparams expired" in text.lower() else None
    if not isinstance(answer, dict):
        return None
    # A tollway orchestrator answers problem details; older ones nested them under "error".
    problem = answer.get("error", answer)
    if not isinstance(problem, dict):
        return None
    if problem.get("field") == "expiration_block":
        return TicketParamsExpired
    if problem.get("code", problem.get("type")) == "InsufficientCredit":
        return InsufficientCredit
    return None


class DispatchActivities:
    def __init__(
        self,
        http: httpx.AsyncClient,
        private_key: bytes,
        address: str,
        artifacts: ArtifactStore,
        market: MarketStore,
        spend: SpendLedger,
        live: LiveOutputs,
        tokens: RecentTokens | None = None,
        index: JobIndex | None = None,
    ) -> None:
        self._http = http
        self._key = private_key
        self._address = address
        self._artifacts = artifacts
        self._market = market
        self._spend = spend
        self._live = live
        self._tokens = tokens or RecentTokens(0)
        self._index = index

    def all(self) -> list[Callable[..., Any]]:
        return [self.dispatch, self.cancel]

    async def _failed(self, url: str, capability: str, kind: FailureKind, reason: str) -> None:
        await self._market.record_failure(url, capability, kind, reason)
        metrics.ORCHESTRATOR_DISPATCHES.labels(url, kind.value).inc()

    @activity.defn(name="dispatch_job")
    async def dispatch(self, request: DispatchInput) -> DispatchOutcome:
        url, capability = request.candidate.url, request.spec.capability
        try:
            outcome = await self._dispatch(request)
        except BaseException:
            self._tokens.forget(url, capability)  # whatever went wrong, ask afresh next time
            raise
        finally:
            # The orchestrator has debited (or refused) the job: its credit hold ends here.
            self._spend.release(request.spec.job_id)
        if outcome.status_code >= 400:
            self._tokens.forget(url, capability)
        elif outcome.balance_wei is not None:
            self._tokens.balance(url, capability, outcome.balance_wei)
        return outcome

    @activity.defn(name="cancel_dispatch")
    async def cancel(self, request: CancelInput) -> CancelAnswer:
        """Tell the orchestrator that the job is canceled (its own signed header names it), so
        it stops the job's work and bills only the time it ran."""
        job = JobRequest(
            id=request.job_id, capability=request.capability, timeout_seconds=1
        ).signed_by(self._key, self._address)
        try:
            answer = await self._http.post(
                f"{request.orchestrator}/process/cancel",
                headers={"Livepeer": job.encode()},
                timeout=CANCEL_TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as exc:
            raise to_application_error(
                OrchestratorUnreachable(f"the cancel did not reach the orchestrator: {exc!r}")
            ) from exc
        if answer.status_code != 200:
            raise to_application_error(
                OrchestratorFailed(
                    f"the orchestrator answered the cancel {answer.status_code}: "
                    f"{answer.text[:300]}",
                    status_code=answer.status_code,
                )
            )
        body = answer.json()
        return CancelAnswer(
            canceled=bool(body.get("canceled")),
            units=int(body.get("units", 0)),
            cost_wei=int(body.get("cost_wei", 0)),
        )

    async def _dispatch(self, request: DispatchInput) -> DispatchOutcome:
        spec, candidate = request.spec, request.candidate
        left = request.deadline - time.time()
        if left < 1:
            raise to_application_error(
                DeadlinePassed(f"the job's {spec.timeout_seconds} s passed before dispatch")
            )
        job = JobRequest(
            id=spec.job_id,
            request=spec.request,
            parameters=spec.parameters,
            capability=spec.capability,
            timeout_seconds=min(spec.timeout_seconds, math.floor(left)),
        ).signed_by(self._key, self._address)
        headers = {
            "Livepeer": job.encode(),
            "Content-Type": spec.content_type,
            "Content-Length": str(self._artifacts.size(spec.input_artifact)),
        }
        if request.payment_header:
            headers["Livepeer-Payment"] = request.payment_header
        url = f"{candidate.url}/process/request/{spec.path.lstrip('/')}"
        if self._index is not None:
            await self._index.add_event(spec.job_id, "job.started", {"orchestrator": candidate.url})
        started = time.monotonic()
        try:
            sent = self._http.build_request(
                "POST",
                url,
                content=self._artifacts.chunks(spec.input_artifact),
                headers=headers,
                timeout=left + 1,
            )
            response = await heartbeating(self._http.send(sent, stream=True), HEARTBEAT_SECONDS)
            try:
                if is_event_stream(response.status_code, response.headers.get("Content-Type", "")):
                    return await heartbeating(
                        self._relay_live(response, spec, candidate, started), HEARTBEAT_SECONDS
                    )
                if response.status_code >= 500 or response.status_code == 400:
                    # Read no more of a refusal than its message needs.
                    error = await heartbeating(_error_text(response), HEARTBEAT_SECONDS)
                    output = None
                else:
                    output = await heartbeating(
                        self._artifacts.put_chunks(response.aiter_bytes()), HEARTBEAT_SECONDS
                    )
            finally:
                await response.aclose()
        except (httpx.LocalProtocolError, UnicodeEncodeError) as exc:
            # The job's own request cannot be sent: no orchestrator's record pays for that.
            raise to_application_error(
                BadRequest(f"the job's request cannot be sent as given: {exc}")
            ) from exc
        except httpx.HTTPError as exc:
            kind = (
                FailureKind.UNREACHABLE
                if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                else FailureKind.FAILED
            )
            await self._failed(candidate.url, spec.capability, kind, f"transport error: {exc!r}")
            raise to_application_error(
                OrchestratorUnreachable(f"transport error: {exc!r}")
            ) from exc
        elapsed = time.monotonic() - started
        if output is None:
            output = await self._refused(
                response.status_code, error, candidate.url, spec.capability
            )
        elif response.status_code < 400:
            await self._market.record_success(candidate.url, spec.capability, elapsed * 1000)
            metrics.ORCHESTRATOR_DISPATCHES.labels(candidate.url, "succeeded").inc()
        balance = response.headers.get("Livepeer-Balance", "")
        return DispatchOutcome(
            status_code=response.status_code,
            output_artifact=output[0],
            output_bytes=output[1],
            content_type=response.headers.get("Content-Type", "application/octet-stream"),
            elapsed_seconds=elapsed,
            balance_wei=int(balance) if balance.lstrip("-").isdigit() else None,
            metadata=response.headers.get("X-Metadata"),
            units=response.headers.get(UNITS_HEADER),
        )

    async def _refused(self, status: int, error: str, url: str, capability: str) -> tuple[str, int]:
        """A 400 refusal kept as the job's output; a 5xx or expired params raised."""
        if status == 503:
            metrics.ORCHESTRATOR_DISPATCHES.labels(url, "busy").inc()
            raise to_application_error(
                OrchestratorBusy(f"orchestrator answered 503: {error[:300]}", status_code=503)
            )
        if status >= 500:
            await self._failed(
                url, capability, FailureKind.FAILED, f"answered {status}: {error[:200]}"
            )
            raise to_application_error(
                OrchestratorFailed(
                    f"orchestrator answered {status}: {error[:300]}", status_code=status
                )
            )
        kind = _ask_again(error)
        if kind is not None:
            message = f"the orchestrator asks for a fresh token: {error[:200]}"
            raise to_application_error(kind(message))
        return self._artifacts.put(error.encode()), len(error.encode())

    async def _relay_live(
        self, response: httpx.Response, spec: JobSpec, candidate: Candidate, started: float
    ) -> DispatchOutcome:
        """Write a server-sent events answer to the job's live output as it arrives (the
        gateway API relays it from there); the whole stream becomes the output artifact."""
        head = LiveHead(
            status_code=response.status_code,
            content_type=response.headers.get("Content-Type", "text/event-stream"),
            orchestrator=candidate.url,
            metadata=response.headers.get("X-Metadata"),
        )
        writer = self._live.start(spec.job_id, head)
        size = 0
        try:
            async for chunk in response.aiter_bytes():
                writer.write(chunk)
                size += len(chunk)
        except BaseException:
            writer.abandon()
            raise
        artifact_id, path = self._artifacts.new()
        writer.finish(path)
        elapsed = time.monotonic() - started
        await self._market.record_success(candidate.url, spec.capability, elapsed * 1000)
        metrics.ORCHESTRATOR_DISPATCHES.labels(candidate.url, "succeeded").inc()
        balance = response.headers.get("Livepeer-Balance", "")
        return DispatchOutcome(
            status_code=response.status_code,
            output_artifact=artifact_id,
            output_bytes=size,
            content_type=head.content_type,
            elapsed_seconds=elapsed,
            balance_wei=int(balance) if balance.lstrip("-").isdigit() else None,
            metadata=head.metadata,
        )
