"""Placement of declared replicas on GPU workers (pure function, no Docker, no Temporal)."""

from __future__ import annotations

from typing import Any

import pytest

from tollway.byoc.declaration import CapabilityDeclaration
from tollway.byoc.gpus import GpuDevice, GpuInventory, WorkerReport
from tollway.byoc.placement import place
from tollway.errors import PlacementError

GIB = 2**30


def worker(worker_id: str, *gpus: tuple[str, int]) -> WorkerReport:
    devices = [
        GpuDevice(
            index=i,
            uuid=f"GPU-{worker_id}-{i}",
            name=name,
            memory_total_bytes=gib * GIB,
            memory_used_bytes=0,
        )
        for i, (name, gib) in enumerate(gpus)
    ]
    return WorkerReport(
        worker_id=worker_id,
        task_queue=f"tollway-gpu-{worker_id}",
        inventory=GpuInventory(gpus=devices, cpu_only_reason="" if devices else "no driver"),
    )


def declared(name: str, **changes: Any) -> CapabilityDeclaration:
    return CapabilityDeclaration.model_validate({"name": name, "image": "x:1", **changes})


def where(placements: list[Any]) -> list[tuple[str, str, list[str]]]:
    return [(p.capability, p.worker_id, p.gpu_device_ids) for p in placements]


def test_cpu_replicas_spread_across_workers() -> None:
    placements = place([declared("echo", replicas=4)], [worker("a"), worker("b")])
    assert sorted(p.worker_id for p in placements) == ["a", "a", "b", "b"]
    assert all(p.gpu_device_ids == [] for p in placements)
    assert [p.index for p in placements] == [0, 1, 2, 3]
    assert placements[0].task_queue == "tollway-gpu-a"


def test_gpu_replicas_share_a_gpu_while_its_vram_lasts() -> None:
    need = {"count": 1, "min_vram_mb": 10 * 1024}
    l4 = worker("a", ("NVIDIA L4", 24))
    placements = place([declared("llm", replicas=2, gpu=need)], [l4])
    assert where(placements) == [("llm", "a", ["0"])] * 2
    with pytest.raises(PlacementError, match=r"'llm' needs 1 GPU\(s\) with 10240 MiB free.*4096"):
        place([declared("llm", replicas=3, gpu=need)], [l4])


def test_multi_gpu_replicas_take_gpus_of_one_worker() -> None:
    workers = [worker("a", ("A100", 80)), worker("b", ("A100", 80), ("A100", 80))]
    placements = place([declared("big", gpu={"count": 2})], workers)
    assert where(placements) == [("big", "b", ["0", "1"])]


def test_model_must_match() -> None:
    workers = [worker("a", ("NVIDIA L4", 24)), worker("b", ("NVIDIA H100 80GB HBM3", 80))]
    placements = place([declared("fast", replicas=2, gpu={"count": 1, "model": "h100"})], workers)
    assert {p.worker_id for p in placements} == {"b"}
    with pytest.raises(PlacementError, match=r"model 'B200'.*a: GPU 0 NVIDIA L4"):
        place([declared("x", gpu={"count": 1, "model": "B200"})], workers)


def test_dedicated_gpus_are_never_shared() -> None:
    workers = [worker("a", ("L4", 24), ("L4", 24))]
    placements = place(
        [
            declared("shared", replicas=2, gpu={"count": 1}),
            declared("own", warm="dedicated", gpu={"count": 1}),
        ],
        workers,
    )
    own = [p for p in placements if p.capability == "own"]
    shared = [p for p in placements if p.capability == "shared"]
    assert len(own) == 1
    assert all(p.gpu_device_ids != own[0].gpu_device_ids for p in shared)
    assert [p.capability for p in placements] == ["shared", "shared", "own"]  # file order
    with pytest.raises(PlacementError, match="dedicated"):
        place([declared("own", replicas=3, warm="dedicated", gpu={"count": 1})], workers)


def test_a_gpu_need_on_a_cpu_only_fleet_says_so() -> None:
    with pytest.raises(PlacementError, match=r"a: no GPU \(no driver\)") as info:
        place([declared("llm", gpu={"count": 1})], [worker("a")])
    assert info.value.details["capability"] == "llm"
    assert info.value.status_code == 400


def test_no_workers_at_all() -> None:
    with pytest.raises(PlacementError, match="no GPU worker has reported"):
        place([declared("echo")], [])
    assert place([declared("echo", replicas=0)], []) == []
