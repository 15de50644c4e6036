"""`tollway down`: stop exactly what `tollway up` started: its containers, then its processes."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from rich.console import Console

from tollway.byoc.docker_runtime import DockerRuntime
from tollway.config import ORCHESTRATOR_NAMESPACE
from tollway.stack import processes
from tollway.stack.state import StackState
from tollway.temporal import connect


async def _stop_capabilities(state: StackState, console: Console) -> None:
    client = await connect(state.endpoints.temporal_address, ORCHESTRATOR_NAMESPACE)
    for name, workflow_id in state.capabilities.items():
        handle = client.get_workflow_handle(workflow_id)
        try:
            await handle.signal("stop")
            await asyncio.wait_for(handle.result(), timeout=30)
            console.print(f"  [green]✓[/] capability {name} unregistered and its container stopped")
        except Exception as exc:
            console.print(f"  [yellow]![/] capability {name}: {exc!r}; removing by label")


def bring_down(directory: Path, console: Console) -> bool:
    state = StackState.load(directory)
    if state is None:
        console.print(f"no stack recorded in {directory}; nothing to stop")
        return False
    temporal_pid = state.processes.get("temporal")
    if temporal_pid and processes.alive(temporal_pid.pid):
        with contextlib.suppress(Exception):
            asyncio.run(asyncio.wait_for(_stop_capabilities(state, console), timeout=45))
    for name, record in reversed(list(state.processes.items())):
        processes.stop(record.pid)
        console.print(f"  [green]✓[/] stopped {name} (pid {record.pid})")
    runtime = DockerRuntime()
    for container in runtime.list_containers({"tollway.stack": state.stack_id}):
        runtime.stop(container.container_id)
        console.print(f"  [green]✓[/] removed container {container.name}")
    StackState.path(directory).unlink()
    return True
