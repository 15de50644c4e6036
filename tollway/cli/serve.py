"""`tollway serve FILE`: hand a declaration file to the running stack's FleetWorkflow and show
each replica come up (placed, started, healthy, registered; a cold-swap one registered cold)."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from tollway.byoc.declaration import load_declarations
from tollway.byoc.fleet import FleetInput
from tollway.byoc.replica import ContainerState, ContainerStatus
from tollway.config import ORCHESTRATOR_NAMESPACE, ORCHESTRATOR_TASK_QUEUE
from tollway.devnet.state import StackState
from tollway.errors import PlacementError, WorkerFailed
from tollway.temporal import connect
from tollway.workflows.container import ContainerWorkflow
from tollway.workflows.fleet import FleetStatus, FleetWorkflow

__all__ = ["fleet_id", "serve_file"]

POLL_SECONDS = 0.2
READY = (ContainerState.SERVING, ContainerState.PARKED)
"""A cold-swap replica is ready once parked: registered, started by its first request."""


def fleet_id(stack_id: str) -> str:
    return f"fleet-{stack_id}"


async def serve_file(
    state: StackState,
    file: Path,
    console: Console,
    wait_seconds: float = 300.0,
    recheck_seconds: float = 30.0,
) -> dict[str, ContainerStatus]:
    """Apply `file` to the stack's fleet and wait until every replica serves; returns each
    replica's status by workflow id. PlacementError when a replica fits no GPU worker;
    WorkerFailed when the replicas are not all serving within `wait_seconds`."""
    declared = load_declarations(file)
    fleet = FleetInput(
        fleet_id=fleet_id(state.stack_id),
        capabilities=declared.capabilities,
        labels={"tollway.stack": state.stack_id},
        revision=uuid.uuid4().hex,
        recheck_seconds=recheck_seconds,
    )
    client = await connect(state.endpoints.temporal_address, ORCHESTRATOR_NAMESPACE)
    handle = await client.start_workflow(
        FleetWorkflow.run,
        None,
        id=fleet.fleet_id,
        task_queue=ORCHESTRATOR_TASK_QUEUE,
        start_signal="apply",
        start_signal_args=[fleet],
    )
    started = time.monotonic()
    deadline = started + wait_seconds
    while True:
        status = await _fleet_status(handle)
        if status.error_revision == fleet.revision:
            raise PlacementError(status.error)
        if status.revision == fleet.revision:
            break
        if time.monotonic() > deadline:
            raise WorkerFailed(f"the fleet did not take {file} within {wait_seconds:g} s")
        await asyncio.sleep(POLL_SECONDS)
    console.print(f"[bold]tollway serve[/] {file}: {len(status.replicas)} replicas placed")
    replicas = await _wait_serving(client, status, console, deadline)
    console.print(_table(status, replicas))
    console.print(f"all replicas serving after {time.monotonic() - started:.1f} s")
    return replicas


async def _fleet_status(handle: WorkflowHandle[FleetWorkflow, FleetStatus]) -> FleetStatus:
    """The fleet's status; empty while a fleet started just now has not run its first task."""
    try:
        status = await handle.query(FleetWorkflow.status)
    except RPCError:
        return FleetStatus()
    return status


async def _wait_serving(
    client: Client, fleet: FleetStatus, console: Console, deadline: float
) -> dict[str, ContainerStatus]:
    seen: dict[str, ContainerState] = {}
    replicas: dict[str, ContainerStatus] = {}
    while True:
        for replica in fleet.replicas:
            try:
                handle = client.get_workflow_handle(replica.workflow_id)
                status = await handle.query(ContainerWorkflow.status)
            except RPCError:
                continue  # its first task has not run yet
            replicas[replica.workflow_id] = status
            if seen.get(replica.workflow_id) != status.state:
                seen[replica.workflow_id] = status.state
                console.print(f"  {replica.capability}[{replica.index}] {status.state.value}")
        if len(replicas) == len(fleet.replicas) and all(
            r.state in READY for r in replicas.values()
        ):
            return replicas
        if time.monotonic() > deadline:
            waiting = [w for w in seen if seen[w] not in READY]
            raise WorkerFailed(f"replicas not serving in time: {', '.join(waiting)}")
        await asyncio.sleep(POLL_SECONDS)


def _table(fleet: FleetStatus, replicas: dict[str, ContainerStatus]) -> Table:
    table = Table("capability", "replica", "worker", "GPUs", "container", "state")
    for replica in fleet.replicas:
        status = replicas[replica.workflow_id]
        table.add_row(
            replica.capability,
            str(replica.index),
            replica.worker_id,
            ",".join(replica.gpu_device_ids) or "-",
            status.container.name if status.container else "-",
            status.state.value,
        )
    return table
