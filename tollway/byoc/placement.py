"""Where each declared replica runs: which GPU worker, which of its GPUs.

A pure function of the declarations and the workers' reports, so the FleetWorkflow can call it
deterministically. Rules:
- a replica needing `gpu.count` GPUs gets that many GPUs of one worker, each matching
  `gpu.model` (a substring of the NVML name) with `gpu.min_vram_mb` still unreserved on it;
- "dedicated" replicas take whole GPUs nobody else uses, and nobody shares them afterwards;
  they are placed first, then the others by GPU count, largest first;
- replicas of one capability spread across workers (fewest of that capability first), then go
  where most VRAM is left; CPU replicas (count 0) spread the same way.
A replica that fits nowhere raises PlacementError naming it and what it lacked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from tollway.byoc.declaration import CapabilityDeclaration
from tollway.byoc.gpus import GpuDevice, WorkerReport
from tollway.errors import PlacementError

__all__ = ["Placement", "place"]

MIB = 2**20


class Placement(BaseModel):
    capability: str
    index: int
    worker_id: str
    task_queue: str
    gpu_device_ids: list[str] = []


@dataclass
class _Gpu:
    device: GpuDevice
    reserved_mb: int = 0
    users: int = 0
    dedicated: bool = False

    @property
    def free_mb(self) -> int:
        return self.device.memory_total_bytes // MIB - self.reserved_mb


@dataclass
class _Worker:
    report: WorkerReport
    gpus: list[_Gpu]
    replicas: dict[str, int] = field(default_factory=dict)


def place(
    declarations: list[CapabilityDeclaration], workers: list[WorkerReport]
) -> list[Placement]:
    """One Placement per declared replica, in declaration order."""
    if not workers and any(d.replicas for d in declarations):
        raise PlacementError("no GPU worker has reported to this orchestrator yet")
    pool = [_Worker(w, [_Gpu(g) for g in w.inventory.gpus]) for w in workers]
    order = sorted(
        range(len(declarations)),
        key=lambda i: (declarations[i].warm != "dedicated", -declarations[i].gpu.count, i),
    )
    placed: dict[int, list[Placement]] = {}
    for i in order:
        declaration = declarations[i]
        placed[i] = [_place_one(declaration, n, pool) for n in range(declaration.replicas)]
    return [p for i in range(len(declarations)) for p in placed[i]]


def _place_one(declaration: CapabilityDeclaration, index: int, pool: list[_Worker]) -> Placement:
    need = declaration.gpu
    dedicated = declaration.warm == "dedicated"
    best: tuple[tuple[int, int], _Worker, list[_Gpu]] | None = None
    for worker in pool:
        fitting = [g for g in worker.gpus if _fits(g, declaration, dedicated)]
        if len(fitting) < need.count:
            continue
        chosen = sorted(fitting, key=lambda g: (g.users, -g.free_mb, g.device.index))
        chosen = chosen[: need.count]
        free = sum(g.free_mb for g in worker.gpus) if worker.gpus else 0
        rank = (worker.replicas.get(declaration.name, 0), -free)
        if best is None or rank < best[0]:
            best = (rank, worker, chosen)
    if best is None:
        raise PlacementError(_why_not(declaration, pool), capability=declaration.name)
    _, worker, chosen = best
    for gpu in chosen:
        gpu.reserved_mb += need.min_vram_mb
        gpu.users += 1
        gpu.dedicated = gpu.dedicated or dedicated
    worker.replicas[declaration.name] = worker.replicas.get(declaration.name, 0) + 1
    return Placement(
        capability=declaration.name,
        index=index,
        worker_id=worker.report.worker_id,
        task_queue=worker.report.task_queue,
        gpu_device_ids=[str(g.device.index) for g in sorted(chosen, key=lambda g: g.device.index)],
    )


def _fits(gpu: _Gpu, declaration: CapabilityDeclaration, dedicated: bool) -> bool:
    need = declaration.gpu
    if gpu.dedicated or (dedicated and gpu.users):
        return False
    if need.model and need.model.lower() not in gpu.device.name.lower():
        return False
    return gpu.free_mb >= need.min_vram_mb


def _why_not(declaration: CapabilityDeclaration, pool: list[_Worker]) -> str:
    need = declaration.gpu
    wanted = f"{need.count} GPU(s)"
    if need.model:
        wanted += f" of model {need.model!r}"
    if need.min_vram_mb:
        wanted += f" with {need.min_vram_mb} MiB free"
    if declaration.warm == "dedicated":
        wanted += ", dedicated"
    seen = "; ".join(
        f"{w.report.worker_id}: "
        + (
            ", ".join(
                f"GPU {g.device.index} {g.device.name} {g.free_mb} MiB free"
                + (" (dedicated)" if g.dedicated else "")
                for g in w.gpus
            )
            or f"no GPU ({w.report.inventory.cpu_only_reason or 'CPU-only'})"
        )
        for w in pool
    )
    return f"capability {declaration.name!r} needs {wanted} on one worker; workers have: {seen}"
