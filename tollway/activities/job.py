"""What a client asked for (JobSpec), shared by the job's steps, its workflow and the gateway
API. What an orchestrator answered (DispatchOutcome) and where the job stands (JobStatus) are
the API's own JSON, in `tollway.schemas.jobs`. Only small JSON travels through workflow
history; job bytes are artifacts named by id."""

from __future__ import annotations

from pydantic import BaseModel, Field

from tollway.config import SelectionPolicy
from tollway.protocol.header import JobParameters

__all__ = ["JobSpec"]


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
