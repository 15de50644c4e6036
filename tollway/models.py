"""Pydantic contracts for the job lifecycle: one model per workflow and activity input/output.

Only small JSON travels through workflow history; job bytes are artifacts named by id.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from tollway.byoc.declaration import PriceDeclaration
from tollway.byoc.spec import BuildImageInput, ContainerSpec, StartedContainer


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
    tenant: str = "default"
    policy: str = "balanced"
    """A selection policy of tollway.market.scoring.POLICIES."""
    max_attempts: int = Field(default=4, ge=1, le=20)
    """Orchestrators tried (paid and dispatched to) before the job fails."""


class Candidate(BaseModel):
    """One orchestrator's job token, decoded (reference livepeer-byoc.md 1.5)."""

    url: str
    address: str
    price_per_unit: int
    pixels_per_unit: int = 1
    capacity: int
    queues: bool = False
    """It offers the capability and queues a request briefly when at capacity (a tollway
    orchestrator: its token carries a quote), so capacity 0 makes it a last resort, not a no."""
    balance_wei: int
    ticket_params: dict[str, Any] | None
    """Canonical JSON of the params (None from a free orchestrator)."""
    unit: str = "second"
    """What the price buys, from the orchestrator's signed quote (second without one)."""
    score: float = 0.0
    """Its selection score when it was drawn (tollway.market.scoring)."""


class Attempt(BaseModel):
    orchestrator: str
    stage: str
    reason: str
    status_code: int | None = None


class DiscoverInput(BaseModel):
    capability: str
    include: list[str] = []
    exclude: list[str] = []
    policy: str = "balanced"
    price_caps: dict[str, int] = {}


class Discovery(BaseModel):
    candidates: list[Candidate]
    failures: list[Attempt]


class PaymentInput(BaseModel):
    job_id: str
    capability: str
    candidate: Candidate
    timeout_seconds: int


class PaymentPlan(BaseModel):
    header: str | None
    tickets: int
    ev_wei: int


class DispatchInput(BaseModel):
    spec: JobSpec
    candidate: Candidate
    payment_header: str | None


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


class SettleInput(BaseModel):
    job_id: str
    tenant: str
    capability: str
    orchestrator: str
    orchestrator_address: str
    cost_wei: int
    tickets: int
    ev_wei: int


class JobState(StrEnum):
    DISCOVERING = "discovering"
    PAYING = "paying"
    DISPATCHING = "dispatching"
    SETTLING = "settling"
    SUCCEEDED = "succeeded"
    REJECTED = "rejected"
    FAILED = "failed"


class JobStatus(BaseModel):
    job_id: str
    capability: str
    state: JobState
    orchestrator: str | None = None
    attempts: list[Attempt] = []
    tickets_sent: int = 0
    ticket_ev_wei: int = 0
    cost_wei: int | None = None
    outcome: DispatchOutcome | None = None
    error: str | None = None


class ServeCapabilityInput(BaseModel):
    """One replica of a BYOC capability, run on one GPU worker and registered with its price."""

    spec: ContainerSpec
    build: BuildImageInput | None = None
    gpu_task_queue: str
    capacity: int = Field(default=1, ge=1)
    price: PriceDeclaration = PriceDeclaration(amount=0)
    description: str = ""
    replica: str = ""
    """The replica's name in the orchestrator's registry; "" means the workflow id."""
    drain_timeout_seconds: float = Field(default=60.0, gt=0)
    """How long a stop waits for requests in flight to finish."""
    idle_timeout_seconds: float | None = Field(default=None, gt=0)
    """Cold-swap: no container until a request wakes the replica, stopped again after this
    long without a request. None: always running."""
    health_check_seconds: float = Field(default=5.0, gt=0)
    unhealthy_threshold: int = Field(default=2, ge=1)
    """Failed health checks in a row before the replica is restarted."""
    restart_backoff_seconds: float = Field(default=1.0, ge=0)
    max_restart_backoff_seconds: float = Field(default=60.0, ge=0)
    checks_per_run: int = Field(default=500, ge=1)
    """Health checks before the workflow continues as new, keeping its history small."""
    attached: StartedContainer | None = None
    """The running container a continued run takes over (no build, no start)."""
    restarts: int = 0


class ContainerState(StrEnum):
    BUILDING = "building"
    STARTING = "starting"
    WAITING_HEALTHY = "waiting_healthy"
    PARKED = "parked"
    SERVING = "serving"
    RESTARTING = "restarting"
    DRAINING = "draining"
    STOPPING = "stopping"
    STOPPED = "stopped"


class ContainerStatus(BaseModel):
    capability: str
    replica: str = ""
    state: ContainerState
    container: StartedContainer | None = None
    restarts: int = 0


class RewardInput(BaseModel):
    address: str
    initialize_rounds: bool = False
    round: int | None = None


class RoundStatus(BaseModel):
    current_round: int
    initialized: bool
    active: bool
    last_reward_round: int


class RewardOutcome(BaseModel):
    round: int
    action: str
    tx_hash: str | None = None
    minted: int = 0
