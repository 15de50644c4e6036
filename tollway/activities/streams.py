"""A live stream's steps on an orchestrator, for the StreamWorkflow: start it there (paid with
the tickets the payment step made), stop it. The relay between the client's channels and the
orchestrator's is `tollway.activities.relay`, run by the gateway API that holds the channels."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from tollway.config import SelectionPolicy
from tollway.errors import (
    OrchestratorBusy,
    OrchestratorFailed,
    OrchestratorUnreachable,
    to_application_error,
)
from tollway.market.selection import Candidate
from tollway.payments.spend import SpendLedger
from tollway.protocol.header import JobRequest
from tollway.protocol.stream import STREAM_URL_HEADERS

__all__ = [
    "PayOnInput",
    "StartOnInput",
    "StopOnInput",
    "StreamActivities",
    "StreamSpec",
    "StreamUrls",
    "UpdateOnInput",
]

START_TIMEOUT_SECONDS = 30


class StreamSpec(BaseModel):
    stream_id: str
    capability: str
    params: dict[str, Any] = {}
    """The pipeline's parameters, given to the container at each start (a swap too)."""
    parameters: str = "{}"
    """The `Livepeer` header's parameters: ingress, egress and data switches."""
    price_caps: dict[str, int] = {}
    policy: SelectionPolicy = "balanced"
    relay_task_queue: str
    """The queue of the gateway API that holds the stream's channels."""
    max_swaps: int = 3
    payment_seconds: float = 50.0
    """How often the running stream pays for the next `PAID_SECONDS`."""
    event_silence_seconds: float = 30.0
    """No event from the container for this long: the stream moves on."""
    client_idle_seconds: float = 60.0
    """Nothing from the client for this long: the stream stops."""
    payments_per_run: int = 200
    """Payments in one workflow run before it continues as new (its history stays small)."""
    tenant: str = "default"


class StreamUrls(BaseModel):
    """Where a stream runs on its orchestrator: its channels' URLs there."""

    orchestrator: str
    publish_url: str | None = None
    subscribe_url: str | None = None
    control_url: str | None = None
    events_url: str | None = None
    data_url: str | None = None


class StartOnInput(BaseModel):
    spec: StreamSpec
    candidate: Candidate
    payment_header: str | None
    hold_id: str
    """The credit hold the payment step took, ended here."""


class StopOnInput(BaseModel):
    spec: StreamSpec
    orchestrator: str


class UpdateOnInput(BaseModel):
    spec: StreamSpec
    orchestrator: str
    params: dict[str, Any]


class PayOnInput(BaseModel):
    spec: StreamSpec
    orchestrator: str
    payment_header: str
    hold_id: str


class StreamActivities:
    def __init__(
        self, http: httpx.AsyncClient, private_key: bytes, address: str, spend: SpendLedger
    ) -> None:
        self._http = http
        self._key = private_key
        self._address = address
        self._spend = spend

    def _header(self, spec: StreamSpec) -> str:
        job = JobRequest(
            capability=spec.capability,
            request=json.dumps({"stream_id": spec.stream_id}),
            parameters=spec.parameters,
            timeout_seconds=START_TIMEOUT_SECONDS,
        )
        return job.signed_by(self._key, self._address).encode()

    async def _call(
        self, url: str, step: str, spec: StreamSpec, payment: str | None, body: dict[str, Any]
    ) -> httpx.Response:
        """POST the stream's `step` to the orchestrator at `url`; its 200 answer, else the
        error that ends the step (503: busy, transient)."""
        headers = {"Livepeer": self._header(spec)}
        if payment:
            headers["Livepeer-Payment"] = payment
        try:
            answer = await self._http.post(
                f"{url}/ai/stream/{step}", headers=headers, json=body, timeout=START_TIMEOUT_SECONDS
            )
        except httpx.HTTPError as exc:
            raise to_application_error(
                OrchestratorUnreachable(f"{url}: no answer to the stream {step}: {exc!r}")
            ) from exc
        if answer.status_code == 503:
            raise to_application_error(
                OrchestratorBusy(f"{url} answered 503: {answer.text[:300]}", status_code=503)
            )
        if answer.status_code != 200:
            raise to_application_error(
                OrchestratorFailed(
                    f"{url} refused the stream {step}: {answer.status_code} {answer.text[:300]}",
                    status_code=answer.status_code,
                )
            )
        return answer

    @activity.defn(name="start_stream_on")
    async def start_on(self, request: StartOnInput) -> StreamUrls:
        url = request.candidate.url
        try:
            answer = await self._call(
                url, "start", request.spec, request.payment_header, {"params": request.spec.params}
            )
        finally:
            self._spend.release(request.hold_id)
        found = {
            key: answer.headers[header]
            for key, header in STREAM_URL_HEADERS.items()
            if header in answer.headers
        }
        return StreamUrls(orchestrator=url, **found)

    @activity.defn(name="stop_stream_on")
    async def stop_on(self, request: StopOnInput) -> bool:
        """Stop the stream on the orchestrator; False when it did not answer (it stops a stream
        whose channels go idle, or whose credit runs out, on its own)."""
        try:
            await self._call(request.orchestrator, "stop", request.spec, None, {})
        except ApplicationError as exc:
            details = exc.details[0] if exc.details else {}
            status = details.get("status_code") if isinstance(details, dict) else None
            return status in (404, 409)  # gone already: stopped all the same
        return True

    @activity.defn(name="update_stream_on")
    async def update_on(self, request: UpdateOnInput) -> None:
        """Give the running stream's container new parameters."""
        await self._call(request.orchestrator, "update", request.spec, None, request.params)

    @activity.defn(name="pay_stream_on")
    async def pay_on(self, request: PayOnInput) -> int:
        """Send a running stream's payment; the credit the orchestrator answers."""
        try:
            answer = await self._call(
                request.orchestrator, "payment", request.spec, request.payment_header, {}
            )
        finally:
            self._spend.release(request.hold_id)
        return int(answer.headers.get("Livepeer-Balance", "0"))

    def all(self) -> list[Callable[..., Any]]:
        return [self.start_on, self.stop_on, self.update_on, self.pay_on]
