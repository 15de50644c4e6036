"""What a BYOC container is asked to be, and what the runtime reports back.

These are the arguments and results of the container activities, so they travel through
Temporal history: plain data only, no secrets beyond what the worker's env must carry.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "CAPABILITY_PATTERN",
    "REPLICA_LABEL",
    "TRICKLE_PORT",
    "TRICKLE_PORT_LABEL",
    "WORKER_LABEL",
    "BuildImageInput",
    "ContainerInfo",
    "ContainerSpec",
    "DrainInput",
    "HealthCheckInput",
    "ReplicaLoad",
    "ReplicaRef",
    "StartedContainer",
    "StopContainerInput",
    "TritonModelSpec",
    "WaitHealthyInput",
    "triton_ready_path",
]

DEFAULT_BASE_IMAGE = "tollway/base:bookworm"

REPLICA_LABEL = "tollway.replica"
"""The ContainerWorkflow id that owns a container: how a retried start finds it again."""

TRICKLE_PORT = 8935
"""Where a stream container finds the orchestrator's trickle server on its own 127.0.0.1
(go-livepeer's orchestrator port; inside the container nothing else uses it)."""
WORKER_LABEL = "tollway.gpu-worker"
"""The GPU worker that started a container (several may share one Docker engine)."""
TRICKLE_PORT_LABEL = "tollway.trickle-port"
"""On a stream container: the port on its own loopback where the GPU worker bridges the
orchestrator's trickle server in (byoc/trickle_bridge.py)."""

# Docker accepts [a-zA-Z0-9][a-zA-Z0-9_.-]* as a container name, and the capability is part of it.
CAPABILITY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"


def triton_ready_path(model: str) -> str:
    """Triton's readiness route for `model`: 200 once it can serve."""
    return f"/v2/models/{model}/ready"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TritonModelSpec(_Model):
    """A Triton replica: a model file the GPU worker serves through pytriton's Triton server."""

    model_file: str = Field(min_length=1)
    """An absolute path on the GPU worker (CONTRACT.md, "Triton")."""
    max_batch_size: int = Field(default=8, ge=1, le=1024)


class ContainerSpec(_Model):
    """One replica to run: a container from `image`, or a Triton model (`triton`)."""

    capability: str = Field(pattern=CAPABILITY_PATTERN)
    image: str = ""
    triton: TritonModelSpec | None = None
    container_port: int = Field(default=5000, ge=1, le=65535)
    health_path: str = Field(default="/health", pattern=r"^/")
    env: dict[str, str] = {}
    labels: dict[str, str] = {}
    memory_mb: int = Field(default=512, ge=6)
    cpus: float = Field(default=1.0, gt=0)
    pids_limit: int = Field(default=128, ge=1)
    network: Literal["bridge", "none"] = "bridge"
    """"bridge": may reach out, port published on 127.0.0.1; "none": no egress at all."""
    gpu_device_ids: list[str] = []
    """GPUs (NVML indices) the container is given; none means it sees no GPU."""
    trickle_port: int | None = Field(default=None, ge=1, le=65535)
    """A stream container: the orchestrator's trickle server is bridged onto its own
    127.0.0.1 at this port."""

    @model_validator(mode="after")
    def _image_or_triton(self) -> ContainerSpec:
        if bool(self.image) == (self.triton is not None):
            raise ValueError("give exactly one of image and triton")
        return self


class BuildImageInput(_Model):
    context_dir: str = Field(min_length=1)
    tag: str = Field(min_length=1)
    base_image: str = DEFAULT_BASE_IMAGE


class StartedContainer(_Model):
    container_id: str
    name: str
    url: str
    host_port: int
    trickle_url: str = ""
    """Where the container reaches the orchestrator's trickle server ("" for no bridge)."""


class ContainerInfo(_Model):
    """One container the runtime manages; `url` and `host_port` only while it publishes one."""

    container_id: str
    name: str
    status: str
    labels: dict[str, str]
    url: str | None = None
    host_port: int | None = None
    pid: int | None = None
    """Its main process on this host, while it runs (a bridge enters its network namespace)."""


class WaitHealthyInput(_Model):
    url: str
    health_path: str = Field(default="/health", pattern=r"^/")
    timeout_seconds: float = Field(default=30.0, gt=0)


class HealthCheckInput(_Model):
    capability: str = ""
    container_id: str
    url: str
    health_path: str = Field(default="/health", pattern=r"^/")


class StopContainerInput(_Model):
    container_id: str = Field(min_length=1)


class ReplicaRef(_Model):
    """One replica of a capability as the orchestrator's registry names it."""

    name: str = Field(min_length=1, max_length=128)
    replica: str = Field(default="", max_length=128)


class DrainInput(_Model):
    replica: ReplicaRef
    timeout_seconds: float = Field(default=60.0, gt=0)
    unregister: bool = True
    """False: only wait for its requests in flight (a parking cold-swap replica, already
    registered cold, keeps its registration)."""


class ReplicaLoad(_Model):
    in_flight: int
    idle_seconds: float
