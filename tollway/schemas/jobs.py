"""The jobs API's JSON shapes: a job's status as its workflow tells it (`JobStatus`, with its
refused `Attempt`s and the orchestrator's `DispatchOutcome`), as its tenant reads it (`JobView`,
`JobAccepted`), its record in the job index (`JobRecord`, `JobPage`), its events (`JobEvent`) and
usage sums (`UsageRow`). Pydantic only, so the gateway, its workflows and `tollway.client` parse
the same models without the client importing the server."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

__all__ = [
    "FINAL_EVENTS",
    "JOB_STATES",
    "Attempt",
    "DispatchOutcome",
    "JobAccepted",
    "JobEvent",
    "JobPage",
    "JobRecord",
    "JobState",
    "JobStatus",
    "JobView",
    "UsageRow",
]

JOB_STATES = ("running", "succeeded", "rejected", "failed", "canceled")
FINAL_EVENTS = frozenset(f"job.{state}" for state in JOB_STATES[1:])


class Attempt(BaseModel):
    """One orchestrator refused or failed for a job, at a stage (select, discover, pay,
    dispatch), with the reason. `transient`: it could not serve now (down, restarting, busy)
    but may soon, so the job asks again later."""

    orchestrator: str
    stage: str
    reason: str
    status_code: int | None = None
    transient: bool = False


class DispatchOutcome(BaseModel):
    """An orchestrator's answer. 2xx and 4xx arrive here; 5xx and transport faults raise."""

    status_code: int
    output_artifact: str
    output_bytes: int
    content_type: str
    elapsed_seconds: float
    balance_wei: int | None
    metadata: str | None = None
    units: str | None = None
    """The orchestrator's `Tollway-Units`: what it billed (frames for frame-priced work)."""


class JobState(StrEnum):
    DISCOVERING = "discovering"
    WAITING = "waiting"
    """Every orchestrator able to serve it is down, restarting or busy: it asks again soon."""
    RUNNING = "running"
    """In the middle of a step: its worker tells its detailed state between steps."""
    PAYING = "paying"
    DISPATCHING = "dispatching"
    SETTLING = "settling"
    SUCCEEDED = "succeeded"
    REJECTED = "rejected"
    FAILED = "failed"
    CANCELED = "canceled"


class JobStatus(BaseModel):
    job_id: str
    capability: str
    state: JobState
    orchestrator: str | None = None
    attempts: list[Attempt] = []
    tickets_sent: int = 0
    ticket_ev_wei: int = 0
    cost_wei: int | None = None
    unit: str | None = None
    units: int | None = None
    """What the orchestrator billed, in `unit`s."""
    outcome: DispatchOutcome | None = None
    error: str | None = None


class JobView(JobStatus):
    """A job as its tenant sees it: its workflow's status and its record in the job index."""

    created_at: datetime | None = None
    completed_at: datetime | None = None
    expires_at: datetime | None = None
    """When its input and output are removed; its record stays."""
    data_removed: bool = False


class JobAccepted(BaseModel):
    job_id: str
    status_url: str
    output_url: str
    job: JobView | None = None
    """With `Prefer: wait`: the job as it stood when the answer was given."""


class JobRecord(BaseModel):
    id: str
    tenant: str
    key_id: str | None = None
    capability: str
    state: str
    """`running` until it ends: then `succeeded`, `rejected` (the orchestrator's 4xx),
    `failed` or `canceled`."""
    created_at: datetime
    completed_at: datetime | None = None
    orchestrator: str | None = None
    unit: str | None = None
    units: int | None = None
    """What the orchestrator billed, in `unit`s (seconds, requests or frames)."""
    cost_wei: int | None = None
    error: str | None = None
    expires_at: datetime | None = None
    """When its input and output are removed (its record stays)."""
    data_removed: bool = False


class JobEvent(BaseModel):
    seq: int
    """1, 2, ... per job: an SSE client resumes after the last it saw (`Last-Event-ID`)."""
    type: str
    """`job.queued`, `job.started`, then `job.succeeded`, `job.rejected`, `job.failed` or
    `job.canceled`."""
    data: dict[str, Any]
    created_at: datetime

    @property
    def final(self) -> bool:
        return self.type in FINAL_EVENTS


class JobPage(BaseModel):
    data: list[JobRecord]
    next_cursor: str | None = None
    has_more: bool = False


class UsageRow(BaseModel):
    day: date | None = None
    key_id: str | None = None
    capability: str | None = None
    jobs: int
    units: dict[str, int]
    """Billed units by unit: `second`, `request`, `frame`."""
    cost_wei: int
    cost_usd: float | None = None
