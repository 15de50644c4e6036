"""Record how a job ended: in the job index (state, cost, billed units, when its data expires)
and against its budget hold, whose worst case its real cost replaces. Both are idempotent, so a
retried or replayed step records once."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity

from tollway.store.budgets import BudgetStore
from tollway.store.jobs import JobIndex

__all__ = ["JobEnded", "JobRecordActivities"]


class JobEnded(BaseModel):
    job_id: str
    state: str
    budget_held: bool = False
    cost_wei: int | None = None
    """What the orchestrator charged; None for a job that failed (nobody charged it)."""
    orchestrator: str | None = None
    unit: str | None = None
    units: int | None = None
    error: str | None = None
    output_artifact: str | None = None
    retention_seconds: float | None = None
    """The job's own (shorter) retention; None: the gateway's."""


class JobRecordActivities:
    def __init__(self, index: JobIndex, budgets: BudgetStore, retention: timedelta) -> None:
        self._index = index
        self._budgets = budgets
        self._retention = retention

    @activity.defn(name="record_job_end")
    async def job_ended(self, end: JobEnded) -> None:
        retention = self._retention
        if end.retention_seconds is not None:
            retention = min(retention, timedelta(seconds=end.retention_seconds))
        await self._index.finish(
            end.job_id,
            end.state,
            retention,
            orchestrator=end.orchestrator,
            unit=end.unit,
            units=end.units,
            cost_wei=end.cost_wei,
            error=end.error,
            output_artifact=end.output_artifact,
        )
        if end.budget_held:
            await self._budgets.settle(end.job_id, end.cost_wei or 0)
