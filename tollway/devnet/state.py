"""`.tollway/stack.json`: where every part of the embedded stack listens and runs."""

from __future__ import annotations

from pathlib import Path

import httpx
from pydantic import BaseModel

from tollway.devnet import processes

__all__ = ["Endpoints", "ProcessRecord", "StackState"]


class Endpoints(BaseModel):
    gateway_api: str
    orchestrator_api: str
    temporal_address: str
    temporal_ui: str
    chain_rpc: str
    gateway_metrics: str
    orchestrator_metrics: str
    gateway_worker_metrics: str
    orchestrator_worker_metrics: str
    gpu_worker_metrics: str
    prometheus: str | None = None
    """Where `tollway up --observe` runs Prometheus."""


class ProcessRecord(BaseModel):
    pid: int
    started: int | None = None
    """Start time in clock ticks since boot: guards against a recycled PID."""
    log: str
    health: str | None = None

    def alive(self) -> bool:
        return processes.alive(self.pid, self.started)

    def stop(self) -> None:
        processes.stop(self.pid, self.started)


class StackState(BaseModel):
    stack_id: str
    directory: str
    endpoints: Endpoints
    contracts: dict[str, str]
    gateway_address: str
    orchestrator_address: str
    orchestrator_secret: str
    gateway_keystore: str
    api_key: str
    admin_key: str = ""
    """The gateway operator's key (scope `admin`: every tenant and key)."""
    capabilities: dict[str, str]
    processes: dict[str, ProcessRecord]

    @staticmethod
    def path(directory: Path) -> Path:
        return directory / "stack.json"

    def save(self) -> None:
        self.path(Path(self.directory)).write_text(self.model_dump_json(indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> StackState | None:
        path = cls.path(directory)
        return cls.model_validate_json(path.read_text()) if path.exists() else None

    def replica_url(self, capability: str = "echo") -> str:
        """Where the stack's first replica of `capability` listens (for a direct call)."""
        answer = httpx.get(
            f"{self.endpoints.orchestrator_api}/v1/replicas",
            headers={"Authorization": self.orchestrator_secret},
        )
        answer.raise_for_status()
        return str(answer.json()["replicas"][capability][0]["url"])
