"""One replica of a BYOC capability as its ContainerWorkflow sees it: what to run where, at what
price, how to keep it healthy (ServeCapabilityInput), and where it stands (ContainerStatus)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from tollway.byoc.declaration import PriceDeclaration
from tollway.byoc.spec import BuildImageInput, ContainerSpec, StartedContainer

__all__ = ["ContainerState", "ContainerStatus", "ServeCapabilityInput"]


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
