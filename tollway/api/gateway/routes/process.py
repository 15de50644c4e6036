"""Livepeer-compatible synchronous jobs: `POST /process/request/{path}`.

The handler stores the body as it arrives, runs the same JobWorkflow as `/v1/jobs` and relays
the answer with `X-Orchestrator-Url` (a large one streamed from its file); server-sent events
are relayed as they arrive. When every
orchestrator fails it answers 502/503/504 JSON listing each attempt, where go-livepeer answers
an empty 200.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from tollway.activities.job import JobSpec
from tollway.api.body import body_chunks
from tollway.api.gateway.deps import LivepeerCaller, Services
from tollway.api.gateway.outputs import output_response
from tollway.api.openapi import binary_body, hand_read, header, problems
from tollway.errors import (
    AllOrchestratorsFailed,
    BadJobHeader,
    BodyIncomplete,
    BodyTooLarge,
    BudgetExceeded,
    DeadlinePassed,
    DiscoveryFailed,
    Forbidden,
    JobCanceled,
    JobStillRunning,
    NoOrchestrator,
    RateLimited,
    RequestTimeout,
)
from tollway.protocol.header import JobRequest, job_path
from tollway.store.live import LiveHead

__all__ = ["LIVEPEER_HEADER", "process_request", "router"]

router = APIRouter()

LIVEPEER_HEADER = header(
    "Livepeer",
    "The job, as go-livepeer's clients send it: base64 of JSON with `capability`, "
    "`timeout_seconds` and, as JSON in strings, `request` and `parameters`.",
    required=True,
)
_ANSWER_HEADERS = {
    name: {"description": description, "schema": {"type": "string"}}
    for name, description in (
        ("X-Orchestrator-Url", "The orchestrator that answered."),
        ("X-Tollway-Job-Id", "The job's id, for `/v1/jobs/{job_id}` with a key."),
        ("Livepeer-Balance", "The gateway's credit left at the orchestrator, in wei."),
        ("X-Metadata", "The container's metadata header, relayed."),
    )
}
_ANSWER: dict[str, Any] = {"*/*": {}}
"""Whatever the container answered, in its media type: no schema can say more."""


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
            BadJobHeader,
            BodyIncomplete,
            BodyTooLarge,
            RequestTimeout,
            Forbidden,
            BudgetExceeded,
            JobCanceled,
            RateLimited,
            AllOrchestratorsFailed,
            NoOrchestrator,
            DeadlinePassed,
            JobStillRunning,
            DiscoveryFailed,
        ),
    },
    openapi_extra={
        **hand_read(
            binary_body("The request for the container, passed on as is."), (LIVEPEER_HEADER,)
        ),
        "security": [{}],  # a key is optional unless the operator requires one
    },
)
async def process_request(
    path: str, request: Request, services: Services, caller: LivepeerCaller
) -> Response:
    if caller is not None:
        caller.require("jobs:write")
    job = JobRequest.decode(request.headers.get("Livepeer"))
    tenant = "default"
    if caller is not None:
        caller.require_capability(job.capability)
        tenant = caller.tenant
    settings = services.settings
    input_artifact, _ = await services.artifacts.put_chunks(
        body_chunks(request, settings.max_body_bytes, settings.body_read_timeout_seconds)
    )
    # A tenant's job is listed among its own; an anonymous one is the gateway's.
    job_id = f"{tenant}.lp-{uuid.uuid4().hex}" if caller else f"livepeer.{uuid.uuid4().hex}"
    await services.accept_job(
        JobSpec(
            job_id=job_id,
            capability=job.capability,
            path=job_path(path),
            input_artifact=input_artifact,
            content_type=request.headers.get("Content-Type", "application/octet-stream"),
            timeout_seconds=job.timeout_seconds,
            price_caps=services.price_caps(job.capability, tenant),
            policy=services.policy(tenant),
            max_attempts=services.settings.max_dispatch_attempts,
            request=job.request,
            parameters=job.parameters,
            job_parameters=job.job_parameters,
            tenant=tenant,
        ),
        caller,
    )
    # The job ends by its deadline (start + timeout); the margin covers settling.
    status = await services.wait_job_or_live(job_id, job.timeout_seconds + 15)
    if isinstance(status, LiveHead):
        return StreamingResponse(
            services.live.follow(job_id, time.monotonic() + job.timeout_seconds + 15),
            status_code=status.status_code,
            media_type=status.content_type,
            headers={
                "X-Orchestrator-Url": status.orchestrator,
                "X-Tollway-Job-Id": job_id,
                "Cache-Control": "no-cache",
            },
        )
    if status.outcome is None:  # its tenant canceled it (`/v1/jobs/{id}/cancel`) first
        raise JobCanceled(f"job {job_id} was canceled before it answered", job_id=job_id)
    headers = {"X-Orchestrator-Url": status.orchestrator or "", "X-Tollway-Job-Id": job_id}
    if status.outcome.balance_wei is not None:
        headers["Livepeer-Balance"] = str(status.outcome.balance_wei)
    if status.outcome.metadata:
        headers["X-Metadata"] = status.outcome.metadata
    return output_response(
        services.artifacts,
        status.outcome.output_artifact,
        status.outcome.status_code,
        status.outcome.content_type,
        headers,
    )
