"""The GPUs a GPU worker can hand to containers, read with NVML (pip `nvidia-ml-py`).

No driver or no device means CPU-only mode, reported with the reason NVML gave, never an
error: this project mostly runs where there is no GPU.
"""

from __future__ import annotations

import ipaddress
from types import ModuleType
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from tollway import metrics

__all__ = [
    "DEFAULT_REPORT_SECONDS",
    "GpuDevice",
    "GpuInventory",
    "WorkerListing",
    "WorkerReport",
    "read_gpus",
]


class GpuDevice(BaseModel):
    index: int
    uuid: str
    name: str
    memory_total_bytes: int
    memory_used_bytes: int
    utilization_percent: int | None = None


class GpuInventory(BaseModel):
    gpus: list[GpuDevice]
    cpu_only_reason: str = ""
    """Why there are no GPUs, when there are none."""

    def describe(self) -> str:
        if not self.gpus:
            return f"no GPU: CPU-only mode ({self.cpu_only_reason})"
        return ", ".join(
            f"GPU {g.index} {g.name} ({g.memory_total_bytes // 2**20} MiB)" for g in self.gpus
        )


DEFAULT_REPORT_SECONDS = 15.0


def _network(cidr: str) -> str:
    return str(ipaddress.ip_network(cidr, strict=False))


Network = Annotated[str, AfterValidator(_network)]


class WorkerReport(BaseModel):
    """What a GPU worker tells its orchestrator: where to send its container work, and what
    hardware it has for placement and for gateways to see."""

    worker_id: str = Field(min_length=1, max_length=128)
    task_queue: str = Field(min_length=1, max_length=256)
    inventory: GpuInventory
    report_every_seconds: float = Field(default=DEFAULT_REPORT_SECONDS, gt=0, le=3600)
    """How often it reports: a worker silent for several of these is taken for lost."""
    networks: list[Network] = Field(default=[], max_length=16)
    """CIDRs of its container networks, where its replicas without egress listen: the
    orchestrator lets capabilities point there (and at the host the report came from)."""


class WorkerListing(BaseModel):
    """The orchestrator's `GET /v1/workers`: the GPU workers that report."""

    workers: list[WorkerReport]
    settled: bool
    """Listening long enough since start that a worker not listed is lost, not just unheard."""


def _nvml() -> ModuleType | None:
    try:
        import pynvml
    except ImportError:
        return None
    module: ModuleType = pynvml
    return module


def read_gpus(nvml: ModuleType | None = None) -> GpuInventory:
    """Every GPU NVML sees, with its memory and utilisation; metrics updated to match."""
    nvml = nvml or _nvml()
    if nvml is None:
        return GpuInventory(gpus=[], cpu_only_reason="nvidia-ml-py is not installed")
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        return GpuInventory(gpus=[], cpu_only_reason=f"NVML: {exc}")
    try:
        gpus = [_device(nvml, index) for index in range(nvml.nvmlDeviceGetCount())]
    except nvml.NVMLError as exc:
        return GpuInventory(gpus=[], cpu_only_reason=f"NVML: {exc}")
    finally:
        nvml.nvmlShutdown()
    for gpu in gpus:
        labels = (str(gpu.index), gpu.name)
        metrics.GPU_MEMORY_USED.labels(*labels).set(gpu.memory_used_bytes)
        metrics.GPU_MEMORY_TOTAL.labels(*labels).set(gpu.memory_total_bytes)
        if gpu.utilization_percent is not None:
            metrics.GPU_UTILIZATION.labels(*labels).set(gpu.utilization_percent)
    return GpuInventory(gpus=gpus, cpu_only_reason="" if gpus else "NVML found no device")


def _device(nvml: ModuleType, index: int) -> GpuDevice:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    try:
        utilization: int | None = int(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
    except nvml.NVMLError:  # not supported on every device (MIG slices, some vGPUs)
        utilization = None
    return GpuDevice(
        index=index,
        uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
        name=_text(nvml.nvmlDeviceGetName(handle)),
        memory_total_bytes=int(memory.total),
        memory_used_bytes=int(memory.used),
        utilization_percent=utilization,
    )


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
