"""GPU detection: this machine has no GPU, so the real NVML says why and the worker runs
CPU-only; a stand-in NVML module (two devices) shows what a GPU host reports."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, ClassVar

from prometheus_client import REGISTRY

from tollway.byoc.gpus import read_gpus


def test_without_a_gpu_the_real_nvml_gives_cpu_only_mode_and_a_reason() -> None:
    inventory = read_gpus()
    assert inventory.gpus == []
    assert inventory.cpu_only_reason.startswith("NVML: ")
    assert inventory.describe().startswith("no GPU: CPU-only mode (NVML: ")


class StandInNvmlError(Exception):
    pass


class StandInNvml:
    """Answers like pynvml on a host with an L4 and an H100 whose utilisation is unsupported."""

    NVMLError = StandInNvmlError
    devices: ClassVar[list[tuple[str, str | bytes, int, int, int | None]]] = [
        ("GPU-aaaa", b"NVIDIA L4", 24 * 2**30, 2 * 2**30, 37),
        ("GPU-bbbb", "NVIDIA H100 80GB HBM3", 80 * 2**30, 0, None),
    ]

    def __init__(self) -> None:
        self.shut_down = False

    def nvmlInit(self) -> None:
        pass

    def nvmlShutdown(self) -> None:
        self.shut_down = True

    def nvmlDeviceGetCount(self) -> int:
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetUUID(self, handle: int) -> str:
        return self.devices[handle][0]

    def nvmlDeviceGetName(self, handle: int) -> str | bytes:
        return self.devices[handle][1]

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:
        return SimpleNamespace(total=self.devices[handle][2], used=self.devices[handle][3])

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> Any:
        gpu = self.devices[handle][4]
        if gpu is None:
            raise StandInNvmlError("Not Supported")
        return SimpleNamespace(gpu=gpu)


def test_a_gpu_host_reports_each_device_and_sets_metrics() -> None:
    nvml = StandInNvml()
    inventory = read_gpus(nvml)  # type: ignore[arg-type]
    assert [(g.index, g.name, g.memory_total_bytes // 2**30) for g in inventory.gpus] == [
        (0, "NVIDIA L4", 24),
        (1, "NVIDIA H100 80GB HBM3", 80),
    ]
    assert [g.utilization_percent for g in inventory.gpus] == [37, None]
    assert nvml.shut_down
    assert inventory.describe() == (
        "GPU 0 NVIDIA L4 (24576 MiB), GPU 1 NVIDIA H100 80GB HBM3 (81920 MiB)"
    )
    labels = {"gpu": "0", "model": "NVIDIA L4"}
    assert REGISTRY.get_sample_value("tollway_gpu_utilization_percent", labels) == 37
    assert REGISTRY.get_sample_value("tollway_gpu_memory_used_bytes", labels) == 2 * 2**30


def test_an_nvml_error_mid_way_is_cpu_only_not_a_crash() -> None:
    class Failing(StandInNvml):
        def nvmlDeviceGetCount(self) -> int:
            raise StandInNvmlError("GPU is lost")

    inventory = read_gpus(Failing())  # type: ignore[arg-type]
    assert inventory.gpus == []
    assert inventory.cpu_only_reason == "NVML: GPU is lost"
