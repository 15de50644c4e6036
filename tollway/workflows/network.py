"""NetworkSnapshotWorkflow: keeps the gateway's market view fresh, forever.

Refreshes every source and orchestrator info, sleeps, repeats; continues as new every
`refreshes_per_run` refreshes so its history stays small. The gateway worker starts it (or
finds it running) when it starts, so there is exactly one per gateway namespace.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from tollway.activities.discovery import DiscoveryActivities

__all__ = ["NETWORK_SNAPSHOT_WORKFLOW_ID", "NetworkSnapshotInput", "NetworkSnapshotWorkflow"]

NETWORK_SNAPSHOT_WORKFLOW_ID = "network-snapshot"


class NetworkSnapshotInput(BaseModel):
    interval_seconds: float = 30.0
    refreshes_per_run: int = 100


@workflow.defn(name="NetworkSnapshotWorkflow")
class NetworkSnapshotWorkflow:
    def __init__(self) -> None:
        self._known = 0
        self._refreshes = 0

    @workflow.run
    async def run(self, request: NetworkSnapshotInput) -> None:
        for _ in range(request.refreshes_per_run):
            self._known = await workflow.execute_activity_method(
                DiscoveryActivities.refresh_network,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
            )
            self._refreshes += 1
            await workflow.sleep(timedelta(seconds=request.interval_seconds))
        workflow.continue_as_new(request)

    @workflow.query
    def known(self) -> int:
        """Orchestrators in the latest snapshot."""
        return self._known
