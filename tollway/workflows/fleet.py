"""FleetWorkflow: an orchestrator's declared capabilities, kept served.

One per orchestrator. The `apply` signal hands it a declaration file's capabilities: it asks
the orchestrator which GPU workers reported, places every replica (tollway.byoc.placement),
starts a ContainerWorkflow child for each replica it lacks and drains (the `stop` signal) each
replica no longer declared. A placement that fails leaves the running fleet as it is and shows
the reason in the `status` query. Children are abandoned on close: each replica's lifecycle is
its own workflow's, and the fleet's `stop` drains them all.

Every `recheck_seconds` it asks again which GPU workers report: the replicas of a worker that
stopped reporting (the orchestrator drops it after a few missed reports) are placed again on
the live workers, and the lost ones drained; their containers are stopped if that worker ever
comes back. It continues as new when its history grows long.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.workflow import ParentClosePolicy

from tollway.workflows.container import ContainerWorkflow

with workflow.unsafe.imports_passed_through():
    from tollway.activities.registration import RegistrationActivities
    from tollway.byoc.fleet import FleetInput, replica_inputs
    from tollway.byoc.gpus import WorkerListing, WorkerReport
    from tollway.byoc.placement import Placement, place
    from tollway.errors import PlacementError

__all__ = ["ONE_TRY", "FleetCarried", "FleetReplica", "FleetStatus", "FleetWorkflow"]

WORKERS_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=0.5), backoff_coefficient=1.5, maximum_attempts=12
)
"""About 40 s for the first GPU worker to report."""
ONE_TRY = RetryPolicy(maximum_attempts=1)
RECHECKS_PER_RUN = 500


class FleetReplica(BaseModel):
    workflow_id: str
    capability: str
    index: int
    worker_id: str
    gpu_device_ids: list[str]


class FleetStatus(BaseModel):
    replicas: list[FleetReplica] = []
    applied: int = 0
    """Declarations applied so far (successfully placed)."""
    revision: str = ""
    """The FleetInput revision last applied."""
    error: str = ""
    """Why the latest declaration could not be placed, if it could not."""
    error_revision: str = ""


class FleetCarried(BaseModel):
    """Where a continued run starts: the declaration in force and its replicas."""

    fleet: FleetInput
    status: FleetStatus


@workflow.defn(name="FleetWorkflow")
class FleetWorkflow:
    @workflow.init
    def __init__(self, carried: FleetCarried | None) -> None:
        self._pending: list[FleetInput] = []
        self._fleet = carried.fleet if carried else None
        self._status = carried.status if carried else FleetStatus()
        self._stop_requested = False

    @workflow.run
    async def run(self, carried: FleetCarried | None) -> FleetStatus:
        rechecks = 0
        while True:
            if not await self._wait_for_work():
                await self._place_lost_replicas()
                rechecks += 1
                idle = not self._pending and not self._stop_requested
                suggested = workflow.info().is_continue_as_new_suggested()
                if idle and self._fleet and (rechecks >= RECHECKS_PER_RUN or suggested):
                    workflow.continue_as_new(FleetCarried(fleet=self._fleet, status=self._status))
                continue
            if self._stop_requested:
                await self._drain(self._status.replicas)
                self._status.replicas = []
                return self._status
            await self._apply(self._pending.pop())
            self._pending.clear()  # only the newest declaration matters

    async def _wait_for_work(self) -> bool:
        """True once a declaration or a stop arrives; False after `recheck_seconds` without
        either, while a declaration is in force."""
        timeout = timedelta(seconds=self._fleet.recheck_seconds) if self._fleet else None
        try:
            await workflow.wait_condition(
                lambda: bool(self._pending) or self._stop_requested, timeout=timeout
            )
        except TimeoutError:
            return False
        return True

    async def _place_lost_replicas(self) -> None:
        """Place again the replicas of GPU workers that stopped reporting."""
        assert self._fleet is not None
        if not self._status.replicas:
            return
        try:
            listing: WorkerListing = await workflow.execute_activity_method(
                RegistrationActivities.worker_listing,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=ONE_TRY,
            )
        except ActivityError:
            return  # no answer: try again next time
        live = {w.worker_id for w in listing.workers}
        lost = sorted({r.worker_id for r in self._status.replicas} - live)
        # Not settled: just restarted, a worker not listed may only be unheard yet.
        if lost and listing.settled and listing.workers:
            workflow.logger.warning("GPU workers %s lost: placing their replicas again", lost)
            await self._apply(self._fleet, listing.workers)

    async def _apply(self, fleet: FleetInput, workers: list[WorkerReport] | None = None) -> None:
        if workers is None:
            try:
                workers = await workflow.execute_activity_method(
                    RegistrationActivities.gpu_workers,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=WORKERS_RETRY,
                )
            except ActivityError:
                workers = []  # placement says why that is not enough
        try:
            placements = place(fleet.capabilities, workers)
        except PlacementError as exc:
            self._status.error = exc.message
            self._status.error_revision = fleet.revision
            workflow.logger.warning("fleet not applied: %s", exc.message)
            return
        wanted = replica_inputs(fleet, placements)
        running = {r.workflow_id: r for r in self._status.replicas}
        by_id = dict(zip(wanted, placements, strict=True))
        for workflow_id, request in wanted.items():
            if workflow_id not in running:
                await workflow.start_child_workflow(
                    ContainerWorkflow.run,
                    request,
                    id=workflow_id,
                    task_queue=workflow.info().task_queue,
                    parent_close_policy=ParentClosePolicy.ABANDON,
                )
        await self._drain([r for r in self._status.replicas if r.workflow_id not in wanted])
        self._status.replicas = [_replica(id_, by_id[id_]) for id_ in wanted]
        self._fleet = fleet
        self._status.applied += 1
        self._status.revision = fleet.revision
        self._status.error = ""

    async def _drain(self, replicas: list[FleetReplica]) -> None:
        for replica in replicas:
            handle = workflow.get_external_workflow_handle(replica.workflow_id)
            await handle.signal(ContainerWorkflow.stop)

    @workflow.signal
    def apply(self, fleet: FleetInput) -> None:
        self._pending.append(fleet)

    @workflow.signal
    def stop(self) -> None:
        self._stop_requested = True

    @workflow.query
    def status(self) -> FleetStatus:
        return self._status


def _replica(workflow_id: str, placement: Placement) -> FleetReplica:
    return FleetReplica(
        workflow_id=workflow_id,
        capability=placement.capability,
        index=placement.index,
        worker_id=placement.worker_id,
        gpu_device_ids=placement.gpu_device_ids,
    )
