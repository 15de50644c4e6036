"""Dispatch: send the signed, paid job to one orchestrator and keep its answer as an artifact.

Each outcome feeds the market: a success records the job's latency, a transport error or a 5xx
counts against the orchestrator's circuit breaker and success rate.
"""

from __future__ import annotations

import time

import httpx
from pydantic import BaseModel
from temporalio import activity

from tollway import metrics
from tollway.activities.job import DispatchOutcome, JobSpec
from tollway.errors import (
    BadRequest,
    OrchestratorFailed,
    OrchestratorUnreachable,
    TicketParamsExpired,
    to_application_error,
)
from tollway.market.breaker import FailureKind
from tollway.market.selection import Candidate
from tollway.market.store import MarketStore
from tollway.payments.spend import SpendLedger
from tollway.protocol.header import JobRequest
from tollway.protocol.price import UNITS_HEADER
from tollway.store.artifacts import ArtifactStore

__all__ = ["DispatchActivities", "DispatchInput"]


class DispatchInput(BaseModel):
    spec: JobSpec
    candidate: Candidate
    payment_header: str | None


def _params_expired(response: httpx.Response) -> bool:
    """go-livepeer treats expired ticket params as "refresh and retry", not a client error."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        return "ticketparams expired" in response.text.lower()
    return isinstance(error, dict) and error.get("field") == "expiration_block"


class DispatchActivities:
    def __init__(
        self,
        http: httpx.AsyncClient,
        private_key: bytes,
        address: str,
        artifacts: ArtifactStore,
        market: MarketStore,
        spend: SpendLedger,
    ) -> None:
        self._http = http
        self._key = private_key
        self._address = address
        self._artifacts = artifacts
        self._market = market
        self._spend = spend

    def _failed(self, url: str, capability: str, kind: FailureKind, reason: str) -> None:
        self._market.record_failure(url, capability, kind, reason)
        metrics.ORCHESTRATOR_DISPATCHES.labels(url, kind.value).inc()

    @activity.defn(name="dispatch_job")
    async def dispatch(self, request: DispatchInput) -> DispatchOutcome:
        try:
            return await self._dispatch(request)
        finally:
            # The orchestrator has debited (or refused) the job: its credit hold ends here.
            self._spend.release(request.spec.job_id)

    async def _dispatch(self, request: DispatchInput) -> DispatchOutcome:
        spec, candidate = request.spec, request.candidate
        job = JobRequest(
            id=spec.job_id,
            request=spec.request,
            parameters=spec.parameters,
            capability=spec.capability,
            timeout_seconds=spec.timeout_seconds,
        ).signed_by(self._key, self._address)
        headers = {"Livepeer": job.encode(), "Content-Type": spec.content_type}
        if request.payment_header:
            headers["Livepeer-Payment"] = request.payment_header
        url = f"{candidate.url}/process/request/{spec.path.lstrip('/')}"
        started = time.monotonic()
        try:
            response = await self._http.post(
                url,
                content=self._artifacts.get(spec.input_artifact),
                headers=headers,
                timeout=spec.timeout_seconds + 5,
            )
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
            self._failed(candidate.url, spec.capability, kind, f"transport error: {exc!r}")
            raise to_application_error(
                OrchestratorUnreachable(f"transport error: {exc!r}")
            ) from exc
        elapsed = time.monotonic() - started
        if response.status_code >= 500:
            self._failed(
                candidate.url,
                spec.capability,
                FailureKind.FAILED,
                f"answered {response.status_code}: {response.text[:200]}",
            )
            raise to_application_error(
                OrchestratorFailed(
                    f"orchestrator answered {response.status_code}: {response.text[:300]}",
                    status_code=response.status_code,
                )
            )
        if response.status_code == 400 and _params_expired(response):
            raise to_application_error(
                TicketParamsExpired(
                    f"ticket params expired before the payment arrived: {response.text[:200]}"
                )
            )
        if response.status_code < 400:
            self._market.record_success(candidate.url, spec.capability, elapsed * 1000)
            metrics.ORCHESTRATOR_DISPATCHES.labels(candidate.url, "succeeded").inc()
        balance = response.headers.get("Livepeer-Balance", "")
        return DispatchOutcome(
            status_code=response.status_code,
            output_artifact=self._artifacts.put(response.content),
            output_bytes=len(response.content),
            content_type=response.headers.get("Content-Type", "application/octet-stream"),
            elapsed_seconds=elapsed,
            balance_wei=int(balance) if balance.lstrip("-").isdigit() else None,
            metadata=response.headers.get("X-Metadata"),
            units=response.headers.get(UNITS_HEADER),
        )
