"""`tollway down`: stop exactly what `tollway up` started: its containers, then its processes."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from rich.console import Console

from tollway.byoc.docker_runtime import DockerRuntime
from tollway.byoc.triton_runtime import TritonRuntime
from tollway.config import ORCHESTRATOR_NAMESPACE, GpuWorkerSettings
from tollway.devnet.state import StackState
from tollway.temporal import connect
from tollway.workflows.container import ContainerWorkflow

__all__ = ["bring_down", "remove_containers", "remove_triton_replicas"]


async def _stop_capabilities(state: StackState, console: Console) -> None:
    client = await connect(state.endpoints.temporal_address, ORCHESTRATOR_NAMESPACE)
    for name, workflow_id in state.capabilities.items():
        handle = client.get_workflow_handle(workflow_id)
        try:
            await handle.signal(ContainerWorkflow.stop)
            await asyncio.wait_for(handle.result(), timeout=30)
            console.print(f"  [green]✓[/] capability {name} unregistered and its container stopped")
        except Exception as exc:
            console.print(f"  [yellow]![/] capability {name}: {exc!r}; removing by label")


def bring_down(directory: Path, console: Console) -> bool:
    state = StackState.load(directory)
    if state is None:
        console.print(f"no stack recorded in {directory}; nothing to stop")
        return False
    temporal = state.processes.get("temporal")
    if temporal and temporal.alive():
        with contextlib.suppress(Exception):
            asyncio.run(asyncio.wait_for(_stop_capabilities(state, console), timeout=45))
    for name, record in reversed(list(state.processes.items())):
        record.stop()
        console.print(f"  [green]✓[/] stopped {name} (pid {record.pid})")
    remove_containers(state.stack_id, console)
    remove_triton_replicas(directory, state.stack_id, console)
    StackState.path(directory).unlink()
    return True


def remove_triton_replicas(directory: Path, stack_id: str, console: Console) -> None:
    """Stop any Triton replica of this stack still running (they outlive the GPU worker)."""
    runtime = TritonRuntime(GpuWorkerSettings(data_dir=directory / "gpu-worker").triton_dir)
    for replica in runtime.list_containers({"tollway.stack": stack_id}):
        runtime.stop(replica.container_id)
        console.print(f"  [green]✓[/] stopped Triton replica {replica.name}")


def remove_containers(stack_id: str, console: Console) -> None:
    """Remove any container still labelled with this stack (its workflow could not stop it)."""
    runtime = DockerRuntime()
    for container in runtime.list_containers({"tollway.stack": stack_id}):
        runtime.stop(container.container_id)
        console.print(f"  [green]✓[/] removed container {container.name}")
