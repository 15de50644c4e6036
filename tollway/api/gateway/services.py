"""What gateway routes share: settings, Temporal, the artifact store; and starting/reading jobs."""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict
from dataclasses import dataclass, field

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from tollway.activities.job import JobSpec
from tollway.activities.relay import RelayActivities
from tollway.api.gateway.ratelimit import RateLimits
from tollway.config import GatewaySettings, SelectionPolicy
from tollway.errors import JobStillRunning, NotFound, RateLimited, TollwayError, error_type
from tollway.market.store import MarketStore
from tollway.schemas.jobs import Attempt, JobState, JobStatus
from tollway.store.artifacts import ArtifactStore
from tollway.store.budgets import BudgetStore, Hold
from tollway.store.idempotency import IdempotencyStore
from tollway.store.jobs import JobIndex
from tollway.store.live import LiveHead, LiveOutputs
from tollway.store.tenants import Principal, TenantStore
from tollway.store.webhooks import WebhookStore
from tollway.streams.trickle import Channels
from tollway.temporal import start_attributes
from tollway.workflows.job import JOB_TASK_TIMEOUT, JobWorkflow

__all__ = ["GatewayServices"]

QUERY_WAIT_SECONDS = 1.0
"""How long a status read waits for a running job's own answer before it says "running"."""
HEAD_POLL_SECONDS = 0.01
"""How often a waiting synchronous request looks for a live (server-sent events) answer."""
FINISHED_KEPT = 4096
"""Finished jobs whose status this process keeps (a finished job's status never changes, and
a client that saw it finish asks for its output next)."""


@dataclass
class GatewayServices:
    settings: GatewaySettings
    temporal: Client
    artifacts: ArtifactStore
    market: MarketStore
    live: LiveOutputs
    trickle: Channels
    relays: RelayActivities
    tenants: TenantStore
    idempotency: IdempotencyStore
    budgets: BudgetStore
    jobs: JobIndex
    rate_limits: RateLimits
    webhooks: WebhookStore
    _finished: OrderedDict[str, JobStatus] = field(default_factory=OrderedDict)

    def price_caps(
        self, capability: str, tenant: str, requested: dict[str, int | None] | None = None
    ) -> dict[str, int]:
        """The job's price caps by unit: per second the lowest of the job's, the tenant's, the
        capability's and the gateway's (`price_cap`); per request or frame the job's or the
        gateway's."""
        requested = requested or {}
        settings = self.settings
        caps = {"second": self.price_cap(capability, tenant, requested.get("second"))}
        for unit, gateway_cap in (
            ("request", settings.max_price_wei_per_request),
            ("frame", settings.max_price_wei_per_frame),
        ):
            asked = requested.get(unit)
            caps[unit] = gateway_cap if asked is None else min(asked, gateway_cap)
        return caps

    def price_cap(self, capability: str, tenant: str, requested: int | None = None) -> int:
        """The job's price cap in wei per second: the lowest of the job's, the tenant's (for
        this capability or "*"), the capability's and the gateway's."""
        settings = self.settings
        caps = [settings.max_price_wei_per_second]
        if capability in settings.capability_max_price_wei_per_second:
            caps.append(settings.capability_max_price_wei_per_second[capability])
        tenant_caps = (
            settings.tenants[tenant].max_price_wei_per_second if tenant in settings.tenants else {}
        )
        caps += [tenant_caps[key] for key in (capability, "*") if key in tenant_caps]
        if requested is not None:
            caps.append(requested)
        return min(caps)

    def policy(self, tenant: str, requested: SelectionPolicy | None = None) -> SelectionPolicy:
        """The job's selection policy: its own, else its tenant's, else the gateway's."""
        own = self.settings.tenants[tenant].policy if tenant in self.settings.tenants else None
        return requested or own or self.settings.selection_policy

    async def start_job(self, spec: JobSpec) -> None:
        """Start the job's workflow; a job id seen before (running or finished) is that job."""
        try:
            await self.temporal.start_workflow(
                JobWorkflow.run,
                spec,
                id=spec.job_id,
                task_queue=self.settings.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                task_timeout=JOB_TASK_TIMEOUT,
                memo={"capability": spec.capability},
                search_attributes=start_attributes(spec.tenant, spec.capability, "running"),
                request_eager_start=True,
            )
        except WorkflowAlreadyStartedError:
            pass

    async def accept_job(self, spec: JobSpec, caller: Principal | None) -> None:
        """Index the job, hold its worst-case cost against its tenant's and key's budgets (402
        BudgetExceeded past one), then start it; it records how it ended and settles its real
        cost. A replayed submission finds its record and hold and starts nothing new. A key
        with too many jobs running gets 429."""
        key_id = caller.key_id if caller else None
        if caller is not None:
            await self._check_in_flight(caller)
        await self.jobs.add(spec.job_id, spec.tenant, key_id, spec.capability, spec.input_artifact)
        hold = await self.budgets.reserve(spec.job_id, spec.tenant, key_id, spec.max_cost_wei())
        if hold != Hold.NONE:
            spec = spec.model_copy(update={"budget_held": True})
        try:
            await self.start_job(spec)
        except BaseException:
            if hold == Hold.NEW and not await self._job_exists(spec.job_id):
                await self.budgets.settle(spec.job_id, 0)  # never started: nothing will settle it
            raise

    async def _check_in_flight(self, caller: Principal) -> None:
        own = caller.limits.jobs_in_flight if caller.limits else None
        most = own or self.settings.jobs_in_flight_per_key
        if await self.jobs.running(caller.key_id) >= most:
            raise RateLimited(
                f"API key {caller.key_id} has {most} jobs running, its most: retry when one ends",
                {"Retry-After": "1"},
                bucket="jobs_in_flight",
                quota=most,
                retry_after_seconds=1,
            )

    async def _job_exists(self, job_id: str) -> bool:
        """Whether Temporal has the job (True when it cannot tell: a hold is kept, not lost)."""
        try:
            await self.temporal.get_workflow_handle(job_id).describe()
        except RPCError as exc:
            return exc.status != RPCStatusCode.NOT_FOUND
        return True

    async def cancel_job(self, job_id: str) -> JobStatus:
        """Cancel a running job; how it ended (canceled, or as it ended first)."""
        handle = self.temporal.get_workflow_handle(job_id, result_type=JobStatus)
        try:
            return await handle.execute_update(JobWorkflow.cancel)
        except (WorkflowUpdateFailedError, RPCError):
            # It closed before the update landed: it ended first.
            return await self._read_status(job_id)

    async def wait_job(self, job_id: str, timeout_seconds: float) -> JobStatus:
        """The finished job, or the TollwayError its workflow failed with."""
        handle = self.temporal.get_workflow_handle(job_id, result_type=JobStatus)
        try:
            status: JobStatus = await asyncio.wait_for(handle.result(), timeout_seconds)
        except WorkflowFailureError as exc:
            raise _job_error(exc) from exc
        except TimeoutError as exc:
            raise JobStillRunning(
                f"job {job_id} still running after {timeout_seconds:.0f} s", job_id=job_id
            ) from exc
        return status

    async def wait_job_or_live(self, job_id: str, timeout_seconds: float) -> JobStatus | LiveHead:
        """The finished job, or the head of its live output (server-sent events) as soon as
        its dispatch begins writing one; the TollwayError its workflow failed with."""
        finished = asyncio.ensure_future(self.wait_job(job_id, timeout_seconds))
        head_path = self.live.head_path(job_id)
        try:
            while True:
                done, _ = await asyncio.wait({finished}, timeout=HEAD_POLL_SECONDS)
                if done:
                    return finished.result()
                if os.path.exists(head_path) and (head := self.live.head(job_id)) is not None:
                    return head
        finally:
            finished.cancel()

    async def job_status(self, job_id: str) -> JobStatus:
        finished = self._finished.get(job_id)
        if finished is not None:
            return finished.model_copy(deep=True)
        return await self._read_status(job_id)

    def _closed(self, status: JobStatus) -> JobStatus:
        """`status` of a job whose workflow has closed, remembered."""
        self._finished[status.job_id] = status.model_copy(deep=True)
        while len(self._finished) > FINISHED_KEPT:
            self._finished.popitem(last=False)
        return status

    async def _read_status(self, job_id: str) -> JobStatus:
        handle = self.temporal.get_workflow_handle(job_id, result_type=JobStatus)
        try:
            description = await handle.describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise NotFound(f"no job {job_id!r}") from exc
            raise
        if description.status == WorkflowExecutionStatus.COMPLETED:
            finished: JobStatus = await handle.result()
            return self._closed(finished)
        if description.status not in (None, WorkflowExecutionStatus.RUNNING):
            status = await handle.query(JobWorkflow.status)
            status.state = JobState.FAILED
            return self._closed(status)
        try:
            status = await asyncio.wait_for(handle.query(JobWorkflow.status), QUERY_WAIT_SECONDS)
        except (TimeoutError, RPCError) as exc:
            if isinstance(exc, RPCError) and exc.status != RPCStatusCode.FAILED_PRECONDITION:
                raise
            # Its worker is in the middle of a step (a query is answered between steps), or
            # its last workflow task timed out and is being retried (the query is refused).
            capability = await description.memo_value("capability", "", type_hint=str)
            return JobStatus(job_id=job_id, capability=capability, state=JobState.RUNNING)
        if status.state != JobState.SUCCEEDED and status.state != JobState.REJECTED:
            return status
        # Its last step is done: the outcome as recorded (a moment later), never ahead of it.
        try:
            recorded: JobStatus = await asyncio.wait_for(handle.result(), QUERY_WAIT_SECONDS)
        except (TimeoutError, WorkflowFailureError):
            return status.model_copy(update={"state": JobState.SETTLING})
        return self._closed(recorded)


def _job_error(exc: WorkflowFailureError) -> TollwayError:
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        raw = cause.details[0] if cause.details else []
        attempts = [Attempt.model_validate(a) for a in raw] if isinstance(raw, list) else []
        return error_type(cause.type)(cause.message, attempts=[a.model_dump() for a in attempts])
    return TollwayError(f"job failed: {cause or exc}")
