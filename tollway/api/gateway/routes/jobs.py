"""The durable job API: submit, read status, fetch output."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import time
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, Strict, field_validator

from tollway.activities.job import JobSpec
from tollway.api.body import parse_json_body, read_body
from tollway.api.gateway.deps import JobReader, JobWriter, Services
from tollway.api.gateway.outputs import output_response
from tollway.api.gateway.services import GatewayServices
from tollway.api.openapi import hand_read, json_body, problems
from tollway.config import SelectionPolicy
from tollway.errors import (
    BadRequest,
    BodyTooLarge,
    BudgetExceeded,
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    JobStillRunning,
    NotFound,
    OutputExpired,
    RequestTimeout,
    TollwayError,
)
from tollway.protocol.header import CAPABILITY_NAME, MAX_PATH_CHARS, JobParameters, job_path
from tollway.schemas.jobs import JOB_STATES, JobAccepted, JobPage, JobState, JobStatus, JobView
from tollway.schemas.webhooks import EventType
from tollway.store.database import utc_now
from tollway.store.idempotency import request_digest
from tollway.store.retention import remove_job_data
from tollway.webhooks.targets import check_url

__all__ = [
    "JobSubmission",
    "cancel_job",
    "delete_job",
    "job_output",
    "job_status",
    "list_jobs",
    "owned",
    "router",
    "submit_job",
    "wait_seconds",
]

router = APIRouter(prefix="/v1/jobs")

LONGEST_JOB_SECONDS = 3600
"""A job's longest timeout (JobSpec): a live output is followed no longer."""

_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


_MEDIA_TYPE = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+/[A-Za-z0-9!#$%&'*+.^_`|~-]+(;[ -~]*)?$"
"""A media type with parameters, printable ASCII only: it becomes the job's Content-Type."""

# Numbers the gateway acts on are JSON integers: `false` is not a price of 0, nor "5" a timeout.
Count = Annotated[int, Strict()]


class JobSubmission(BaseModel):
    capability: str = Field(pattern=CAPABILITY_NAME)
    path: str = Field(default="", max_length=MAX_PATH_CHARS)
    input: Any = None
    input_base64: str | None = None
    content_type: str | None = Field(default=None, max_length=255, pattern=_MEDIA_TYPE)
    timeout_seconds: Count = Field(default=60, gt=0, le=3600)
    max_price_wei_per_second: Count | None = Field(default=None, ge=0)
    max_price_wei_per_request: Count | None = Field(default=None, ge=0)
    max_price_wei_per_frame: Count | None = Field(default=None, ge=0)
    policy: SelectionPolicy | None = None
    max_attempts: Count | None = Field(default=None, ge=1, le=20)
    idempotency_key: str | None = None
    retention_seconds: Count | None = Field(
        default=None, ge=1, description="Keep its input and output shorter than the gateway does."
    )
    parameters: dict[str, Any] = {}
    webhook: str | None = Field(
        default=None,
        min_length=1,
        max_length=2048,
        description="An http(s) URL sent this job's events, signed with the tenant's "
        "`GET /v1/webhooks/default/secret`.",
    )
    webhook_events_filter: list[EventType] = Field(
        default=[], description="The events sent to `webhook`; empty: every event."
    )

    @field_validator("input", "parameters")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        """JSON has no NaN or Infinity (nor 1e999, read as Infinity): refused, not forwarded."""
        if not _all_finite(value):
            raise ValueError("numbers must be finite: NaN, Infinity and 1e999 are not JSON")
        return value


def _all_finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_all_finite(v) for v in value)
    return True


def _input_bytes(submission: JobSubmission) -> tuple[bytes, str]:
    if submission.input_base64 is not None:
        if submission.input is not None:
            raise BadRequest("give either input or input_base64, not both", field="input_base64")
        try:
            data = base64.b64decode(submission.input_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("input_base64 is not base64", field="input_base64") from exc
        return data, submission.content_type or "application/octet-stream"
    text = json.dumps(submission.input, allow_nan=False)
    return text.encode(), submission.content_type or "application/json"


_SUBMITTED_HEADERS = {
    "Idempotent-Replayed": {
        "description": "`true`: the idempotency key named a job already submitted, answered again.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Preference-Applied": {
        "description": "`wait=N`: the `Prefer: wait` the answer honoured.",
        "schema": {"type": "string"},
    },
}


@router.post(
    "",
    status_code=202,
    responses={
        200: {
            "model": JobAccepted,
            "description": "With `Prefer: wait`: the job finished in time.",
            "headers": _SUBMITTED_HEADERS,
        },
        202: {"description": "Accepted: the job runs.", "headers": _SUBMITTED_HEADERS},
        **problems(
            BadRequest,
            BodyTooLarge,
            RequestTimeout,
            Forbidden,
            BudgetExceeded,
            IdempotencyKeyReused,
        ),
    },
    openapi_extra=hand_read(json_body(JobSubmission)),
)
async def submit_job(
    request: Request,
    response: Response,
    services: Services,
    caller: JobWriter,
    idempotency_key: Annotated[
        str | None,
        Header(
            description="Names this request among the tenant's (1-128 of `[A-Za-z0-9_.:-]`): "
            "sent again with the same body it answers the same job."
        ),
    ] = None,
    prefer: Annotated[
        str | None,
        Header(
            description="`wait=N` (1-60 s; bare `wait`: 60): answer 200 with the job if it "
            "finishes in time, else 202 with it as it stands."
        ),
    ] = None,
) -> JobAccepted:
    """Start a job. An `Idempotency-Key` (or the body's `idempotency_key`) names one request of
    the tenant's: sent again with the same body it is the same job (`Idempotent-Replayed:
    true`), with another body 422."""
    body = await read_body(
        request, services.settings.max_body_bytes, services.settings.body_read_timeout_seconds
    )
    submission = parse_json_body(JobSubmission, body)
    caller.require_capability(submission.capability)
    if submission.webhook is not None:
        caller.require("webhooks")  # only a key that may manage webhooks points events at URLs
        check_url(submission.webhook, services.settings.webhook_allow_private_targets)
    tenant = caller.tenant
    given = submission.idempotency_key or idempotency_key
    key = given or uuid.uuid4().hex
    if not _KEY.match(key):
        raise BadRequest(
            "idempotency key must be 1-128 of [A-Za-z0-9_.:-]", field="idempotency_key"
        )
    job_id = f"{tenant}.{key}"
    if given is not None:
        digest = request_digest(submission.model_dump(mode="json", exclude={"idempotency_key"}))
        if not await services.idempotency.claim(tenant, key, digest, job_id):
            response.headers["Idempotent-Replayed"] = "true"
    # Started even on a replay: the first request's process may have died before its start.
    data, content_type = _input_bytes(submission)
    parameters = json.dumps(submission.parameters)
    job_parameters = JobParameters.parse(parameters)
    if submission.webhook is not None:
        await services.webhooks.add_for_job(
            tenant, job_id, submission.webhook, submission.webhook_events_filter
        )
    await services.accept_job(
        JobSpec(
            job_id=job_id,
            capability=submission.capability,
            path=job_path(submission.path),
            input_artifact=services.artifacts.put(data),
            content_type=content_type,
            timeout_seconds=submission.timeout_seconds,
            price_caps=services.price_caps(
                submission.capability,
                tenant,
                {
                    "second": submission.max_price_wei_per_second,
                    "request": submission.max_price_wei_per_request,
                    "frame": submission.max_price_wei_per_frame,
                },
            ),
            policy=services.policy(tenant, submission.policy),
            max_attempts=submission.max_attempts or services.settings.max_dispatch_attempts,
            parameters=parameters,
            job_parameters=job_parameters,
            tenant=tenant,
            retention_seconds=submission.retention_seconds,
        ),
        caller,
    )
    accepted = JobAccepted(
        job_id=job_id, status_url=f"/v1/jobs/{job_id}", output_url=f"/v1/jobs/{job_id}/output"
    )
    wait = wait_seconds(prefer)
    if wait is None:
        return accepted
    response.headers["Preference-Applied"] = f"wait={wait}"
    try:
        await services.wait_job(job_id, wait)
        response.status_code = 200
    except JobStillRunning:
        pass
    except TollwayError:
        response.status_code = 200  # it finished, failing: the job says how
    accepted.job = await _view(services, job_id)
    return accepted


_ORCHESTRATOR_URL = {
    "description": "The orchestrator that ran the job.",
    "schema": {"type": "string"},
}

_PREFER_WAIT = re.compile(r"(?:^|[\s,;])wait(?:\s*=\s*\"?(\d+)\"?)?(?=$|[\s,;])", re.IGNORECASE)
LONGEST_WAIT_SECONDS = 60


def wait_seconds(prefer: str | None) -> int | None:
    """The seconds `Prefer: wait=N` asks for (1-60; a bare `wait` is 60), None without it."""
    match = _PREFER_WAIT.search(prefer or "")
    if match is None:
        return None
    asked = int(match[1]) if match[1] else LONGEST_WAIT_SECONDS
    return max(1, min(LONGEST_WAIT_SECONDS, asked))


def owned(job_id: str, tenant: str) -> str:
    """`job_id`, when it is the tenant's (404 otherwise)."""
    if not job_id.startswith(f"{tenant}."):
        raise NotFound(f"no job {job_id!r}")
    return job_id


@router.get("")
async def list_jobs(
    services: Services,
    caller: JobReader,
    status: Annotated[
        list[str] | None,
        Query(description="Only jobs in these states (repeat, or separate with commas)."),
    ] = None,
    capability: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the page before.")] = None,
) -> JobPage:
    """The tenant's jobs, newest first, from the job index."""
    states = [s for given in status or [] for s in given.split(",") if s]
    unknown = sorted(set(states) - set(JOB_STATES))
    if unknown:
        raise BadRequest(f"unknown states {unknown}; known: {list(JOB_STATES)}", field="status")
    return await services.jobs.page(
        caller.tenant,
        states=states,
        capability=capability,
        created_after=_aware(created_after, "created_after"),
        created_before=_aware(created_before, "created_before"),
        limit=limit,
        cursor=cursor,
    )


def _aware(moment: datetime | None, field: str) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise BadRequest(f"{field} needs a time zone (e.g. 2026-12-01T00:00:00Z)", field=field)
    return moment


@router.get("/{job_id}", responses=problems(NotFound))
async def job_status(job_id: str, services: Services, caller: JobReader) -> JobView:
    return await _view(services, owned(job_id, caller.tenant))


async def _view(services: GatewayServices, job_id: str) -> JobView:
    record = await services.jobs.get(job_id)
    try:
        status = await services.job_status(job_id)
    except NotFound:
        if record is None:
            raise
        # Temporal forgot the closed workflow (its retention passed): the index remembers.
        status = JobStatus(
            job_id=job_id,
            capability=record.capability,
            state=JobState(record.state),
            orchestrator=record.orchestrator,
            cost_wei=record.cost_wei,
            unit=record.unit,
            units=record.units,
            error=record.error,
        )
    view = JobView(**status.model_dump())
    if record is not None:
        view.created_at, view.completed_at = record.created_at, record.completed_at
        view.expires_at, view.data_removed = record.expires_at, record.data_removed
    return view


@router.delete("/{job_id}", status_code=204, responses=problems(NotFound, Conflict))
async def delete_job(job_id: str, services: Services, caller: JobWriter) -> None:
    """Remove a finished job's input and output now; its record stays (`data_removed`)."""
    record = await services.jobs.get(owned(job_id, caller.tenant))
    if record is None:
        raise NotFound(f"no job {job_id!r}")
    if record.completed_at is None:
        raise Conflict(f"job {job_id!r} is still running", field="job_id", state=record.state)
    await remove_job_data(services.jobs, services.artifacts, services.live, job_id)


@router.post("/{job_id}/cancel", responses=problems(NotFound, Conflict))
async def cancel_job(job_id: str, services: Services, caller: JobWriter) -> JobView:
    """Cancel the job: one not yet dispatched ends at once and costs nothing; one running is
    stopped at its orchestrator (its container's request dropped) and costs the time it ran.
    Answers the canceled job; 409 when it ended first."""
    record = await services.jobs.get(owned(job_id, caller.tenant))
    if record is None:
        raise NotFound(f"no job {job_id!r}")
    if record.completed_at is None:
        status = await services.cancel_job(job_id)
        if status.state == JobState.CANCELED:
            return await _view(services, job_id)
        state = status.state.value
    else:
        state = record.state
    raise Conflict(f"job {job_id!r} already ended: {state}", field="job_id", state=state)


@router.get(
    "/{job_id}/output",
    response_class=Response,
    responses={
        200: {
            "description": "The job's output, in its own media type; server-sent events while "
            "they still arrive.",
            "content": {"*/*": {}},
            "headers": {"X-Orchestrator-Url": _ORCHESTRATOR_URL},
        },
        "4XX": {
            "description": "A rejected job's output: its orchestrator's answer, relayed with its "
            "status code.",
            "content": {"*/*": {}},
            "headers": {"X-Orchestrator-Url": _ORCHESTRATOR_URL},
        },
        **problems(NotFound, OutputExpired),
    },
)
async def job_output(job_id: str, services: Services, caller: JobReader) -> Response:
    """The job's output; while it is still arriving as server-sent events, those events as
    they come. 410 once it expired or was deleted."""
    owned(job_id, caller.tenant)
    record = await services.jobs.get(job_id)
    if record is not None and (
        record.data_removed or (record.expires_at is not None and record.expires_at <= utc_now())
    ):
        raise OutputExpired(
            f"job {job_id!r}'s output was removed at {record.expires_at:%Y-%m-%dT%H:%M:%SZ}; "
            "its record stays",
            job_id=job_id,
            expired_at=record.expires_at.isoformat() if record.expires_at else None,
        )
    live = services.live.head(job_id)
    if live is not None and not services.live.finished(job_id):
        # Still arriving: followed as it comes, without waiting on the job's worker.
        return StreamingResponse(
            services.live.follow(job_id, time.monotonic() + LONGEST_JOB_SECONDS),
            status_code=live.status_code,
            media_type=live.content_type,
            headers={"X-Orchestrator-Url": live.orchestrator, "Cache-Control": "no-cache"},
        )
    status = await services.job_status(job_id)
    if status.outcome is None or status.state not in (JobState.SUCCEEDED, JobState.REJECTED):
        raise NotFound(f"job {job_id!r} has no output (state: {status.state})")
    # A rejected job's output is the orchestrator's error, relayed with its status code.
    return output_response(
        services.artifacts,
        status.outcome.output_artifact,
        status.outcome.status_code,
        status.outcome.content_type,
        {"X-Orchestrator-Url": status.orchestrator or ""},
    )
