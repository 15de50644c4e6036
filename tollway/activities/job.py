"""The job's records, shared by its steps, its workflow and the gateway API: what the client
asked for (JobSpec), what an orchestrator answered (DispatchOutcome) and where the job stands
(JobStatus). Only small JSON travels through workflow history; job bytes are artifacts named
by id."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from tollway.config import SelectionPolicy
from tollway.market.selection import Attempt
from tollway.protocol.header import JobParameters

__all__ = ["DispatchOutcome", "JobSpec", "JobState", "JobStatus"]


class JobSpec(BaseModel):
    """What a client asked for, as the gateway's JobWorkflow receives it."""

    job_id: str
    capability: str
    path: str = ""
    input_artifact: str
    content_type: str = "application/json"
    timeout_seconds: int = Field(default=60, gt=0, le=3600)
    price_caps: dict[str, int] = {}
    """Most the job pays, in wei per unit, by unit ("second", "request", "frame")."""
    request: str = "{}"
    parameters: str = "{}"
    job_parameters: JobParameters = JobParameters()
    """`parameters`, parsed once by the gateway API."""
    tenant: str = "default"
    policy: SelectionPolicy = "balanced"
    max_attempts: int = Field(default=4, ge=1, le=20)
    """Orchestrators tried (paid and dispatched to) before the job fails."""
    retention_seconds: float | None = None
    """How long its input and output are kept after it ends (None: the gateway's setting)."""
    budget_held: bool = False
    """The job holds its worst-case cost against a budget: it settles its real cost at the end."""

    def max_cost_wei(self) -> int:
        """The most the job can cost: a whole second over its timeout at its per-second cap
        (orchestrators bill whole seconds), or one request at its per-request cap. Frame-priced
        work has no bound before it runs: it settles at its real cost."""
        per_second = self.price_caps.get("second", 0) * (self.timeout_seconds + 1)
        return max(per_second, self.price_caps.get("request", 0))


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
