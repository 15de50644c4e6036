"""JobWorkflow: discover -> select -> pay -> dispatch -> settle, failing over between candidates
and waiting out orchestrators that are down or restarting, until the job's deadline.

One workflow per job (id = job id or idempotency key). Every step is an activity so the
Temporal UI shows the job's path. Discover (which also selects), pay and settle are local
activities, and so is dispatch for a job of up to LOCAL_DISPATCH_SECONDS: the whole job is then
one workflow task, run where it started (eagerly, in the gateway API), and a dead worker is
noticed when that task times out (JOB_TASK_TIMEOUT); the job then runs again elsewhere with the
same job id, which the orchestrator runs and charges once. A longer job dispatches by a regular
activity that heartbeats, retried elsewhere within seconds when its worker dies. It runs without
Temporal's sandbox: it imports nothing but its own models, and building a sandbox per job
(re-importing its modules) was about 7% of the gateway worker's busy time in a profile.

The job runs in rounds. In a round, candidates come ranked by the market's score and are tried
in turn; one that fails is not asked again that round (expired ticket params: the same
orchestrator again, with a fresh token). A 4xx from an orchestrator (a bad request, or credit it
refused) is returned to the client as the job's rejected outcome. When a round runs out of
candidates, the job waits (0.5 s, doubling to 5 s) and starts another round with everyone, but
only if some orchestrator was transiently unavailable (unreachable, restarting, busy, the chain
away: `TollwayError.transient`); otherwise every orchestrator refused or failed it, and it fails.
It also fails after `max_attempts` failed dispatches, or when its deadline (start +
`timeout_seconds`) passes. A failure lists each attempt, each naming a real orchestrator; never an
empty success. Decisions go by the activity's error type (tollway.errors), never by its text.

The `cancel` Update ends the job: before dispatch at the next step, costing nothing; during one
it cancels the dispatch step and tells the orchestrator (`cancel_dispatch`), which stops the job
and bills the time it ran. However it ends, a last local activity records it in the job index
and settles its budget hold.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from tollway.activities.discovery import DiscoverInput, Discovery, DiscoveryActivities
    from tollway.activities.dispatch import CancelInput, DispatchActivities, DispatchInput
    from tollway.activities.job import JobSpec
    from tollway.activities.payment import PaymentActivities, PaymentInput, PaymentPlan
    from tollway.activities.records import JobEnded, JobRecordActivities
    from tollway.activities.settlement import SettlementActivities
    from tollway.errors import (
        AllOrchestratorsFailed,
        DeadlinePassed,
        DiscoveryFailed,
        InsufficientCredit,
        NoOrchestrator,
        TicketParamsExpired,
        TollwayError,
        error_type,
    )
    from tollway.market.selection import Candidate
    from tollway.payments.spend import SettleInput
    from tollway.protocol.price import billed_units
    from tollway.schemas.jobs import Attempt, DispatchOutcome, JobState, JobStatus
    from tollway.temporal import COST_ETH, ORCHESTRATOR, STATE

__all__ = ["JOB_TASK_TIMEOUT", "JobWorkflow"]

QUICK_RETRIES = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(milliseconds=200))
FIRST_WAIT = timedelta(milliseconds=500)
LONGEST_WAIT = timedelta(seconds=5)
EXPIRED_PARAMS_RETRIES = 3
"""Fresh tokens fetched for one job after its params expired in flight, before that counts as
a failed attempt."""
ASK_AGAIN = (TicketParamsExpired, InsufficientCredit)
"""Refusals a fresh token answers: params expired in flight, or a reused token's balance was
behind (see the dispatch activity)."""
DISPATCH_HEARTBEAT_TIMEOUT = timedelta(seconds=6)
LOCAL_DISPATCH_SECONDS = 120
"""A job with at most this timeout is dispatched by a local activity: the whole job is one
workflow task, run where it started (eagerly, in the gateway API) with no round trip through
the Temporal server per step. A worker that dies mid-dispatch is noticed when the workflow task
times out (JOB_TASK_TIMEOUT) and the job runs again elsewhere with the same job id. Longer jobs
dispatch by a regular activity that heartbeats."""
JOB_TASK_TIMEOUT = timedelta(seconds=5)
FINISHED = frozenset({JobState.SUCCEEDED, JobState.REJECTED, JobState.FAILED, JobState.CANCELED})
DISPATCH_RETRIES = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=0,  # bounded by the job's deadline; only a lost worker is retried here
)


StepFailed = (ActivityError, ApplicationError)
"""How a step's failure reaches the workflow: an activity's wraps the error (ActivityError), a
local activity's may be the error itself."""


def _reason(err: ActivityError | ApplicationError) -> tuple[str, int | None, type[TollwayError]]:
    """The activity's error message, its HTTP status where it has one, and its error type."""
    cause = err if isinstance(err, ApplicationError) else err.cause
    if isinstance(cause, ApplicationError):
        details = cause.details[0] if cause.details else {}
        status = details.get("status_code") if isinstance(details, dict) else None
        return cause.message, status, error_type(cause.type)
    return str(cause or err), None, TollwayError


SEARCH_ATTRIBUTES_PATCH = "search-attributes"
WEI_PER_ETH = 10**18


class _Canceled(Exception):
    """The job's cancel came: it ends as canceled, its state and cost already recorded."""


@workflow.defn(name="JobWorkflow", sandboxed=False)  # see the module's docstring
class JobWorkflow:
    @workflow.init
    def __init__(self, spec: JobSpec) -> None:
        self._status = JobStatus(
            job_id=spec.job_id, capability=spec.capability, state=JobState.DISCOVERING
        )
        self._deadline = workflow.info().start_time + timedelta(seconds=spec.timeout_seconds)
        self._cancel_requested = False
        self._dispatching: asyncio.Task[DispatchOutcome] | None = None

    @workflow.run
    async def run(self, spec: JobSpec) -> JobStatus:
        try:
            status = await self._run(spec)
        except _Canceled:
            status = self._status
        except ApplicationError:
            await self._record_end(spec)
            raise
        await self._record_end(spec)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return status

    @workflow.update
    async def cancel(self) -> JobStatus:
        """Cancel the job: one not yet dispatched ends at once, costing nothing; one running on
        an orchestrator is stopped there and costs the time it ran. Answers how the job ended
        (a job that ended first is not changed)."""
        if self._status.state not in FINISHED:
            self._cancel_requested = True
            if self._dispatching is not None:
                self._dispatching.cancel()
            await workflow.wait_condition(lambda: self._status.state in FINISHED)
        return self._status

    def _stop_if_canceled(self) -> None:
        if self._cancel_requested:
            self._status.state = JobState.CANCELED
            raise _Canceled

    async def _record_end(self, spec: JobSpec) -> None:
        """The job index's record of how it ended, and its budget hold settled; its search
        attributes say it too (a job started before they were set records without them)."""
        status = self._status
        outcome = status.outcome
        if workflow.patched(SEARCH_ATTRIBUTES_PATCH):
            updates: list[SearchAttributeUpdate[Any]] = [STATE.value_set(status.state.value)]
            if status.orchestrator is not None:
                updates.append(ORCHESTRATOR.value_set(status.orchestrator))
            if status.cost_wei is not None:
                updates.append(COST_ETH.value_set(status.cost_wei / WEI_PER_ETH))
            workflow.upsert_search_attributes(updates)
        await workflow.execute_local_activity_method(
            JobRecordActivities.job_ended,
            JobEnded(
                job_id=spec.job_id,
                state=status.state.value,
                budget_held=spec.budget_held,
                cost_wei=status.cost_wei,
                orchestrator=status.orchestrator,
                unit=status.unit,
                units=status.units,
                error=status.error,
                output_artifact=outcome.output_artifact if outcome else None,
                retention_seconds=spec.retention_seconds,
            ),
            summary=f"record {status.state.value}",
            start_to_close_timeout=timedelta(seconds=10),
        )

    async def _run(self, spec: JobSpec) -> JobStatus:
        status = self._status
        failed = expired = 0
        fresh: list[str] = []  # orchestrators whose params expired in flight: new tokens
        wait = FIRST_WAIT
        not_offering = 0
        while True:
            tried: list[str] = []
            transient = False
            while True:  # one round: each candidate at most once
                self._stop_if_canceled()
                if workflow.now() >= self._deadline:
                    raise self._fail(self._deadline_passed(spec))
                discovery = await self._discover(spec, tried, fresh)
                not_offering = discovery.not_offering
                status.attempts.extend(discovery.failures)
                transient |= any(a.transient for a in discovery.failures)
                tried.extend(a.orchestrator for a in discovery.failures if a.stage == "discover")
                if not discovery.candidates:
                    break
                for candidate in discovery.candidates:
                    self._stop_if_canceled()
                    outcome, kind = await self._try(spec, candidate)
                    if outcome is not None:
                        return await self._settle(spec, candidate, outcome)
                    if issubclass(kind, ASK_AGAIN) and expired < EXPIRED_PARAMS_RETRIES:
                        expired += 1
                        fresh.append(candidate.url)
                        break  # the same orchestrator again, with a fresh token
                    tried.append(candidate.url)
                    if kind.transient:
                        transient = True
                        continue
                    failed += 1
                    if failed >= spec.max_attempts:
                        raise self._fail(self._refused_by_all(spec, failed, not_offering))
            if not transient:
                raise self._fail(self._refused_by_all(spec, failed, not_offering))
            if workflow.now() + wait >= self._deadline:
                raise self._fail(self._deadline_passed(spec))
            status.state = JobState.WAITING
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._cancel_requested, timeout=wait)
            wait = min(wait * 2, LONGEST_WAIT)

    def _deadline_passed(self, spec: JobSpec) -> DeadlinePassed:
        return DeadlinePassed(
            f"the job's deadline ({spec.timeout_seconds} s) passed before an orchestrator "
            f"served capability {spec.capability!r}"
        )

    def _refused_by_all(self, spec: JobSpec, failed: int, not_offering: int) -> TollwayError:
        if any(a.stage in ("pay", "dispatch") for a in self._status.attempts):
            return AllOrchestratorsFailed(
                f"every orchestrator tried ({failed}) failed for capability {spec.capability!r}"
            )
        others = f" ({not_offering} known orchestrator(s) do not offer it)" if not_offering else ""
        return NoOrchestrator(
            f"no orchestrator offers capability {spec.capability!r} with free capacity "
            f"within the job's limits{others}"
        )

    def _fail(self, error: TollwayError) -> ApplicationError:
        """The workflow's failure: `error`'s type and message, and every attempt so far as its
        one detail (the gateway API lists them)."""
        self._status.state = JobState.FAILED
        self._status.error = error.message
        return ApplicationError(
            error.message,
            [a.model_dump() for a in self._status.attempts],
            type=type(error).__name__,
            non_retryable=True,
        )

    async def _discover(self, spec: JobSpec, tried: list[str], fresh: list[str]) -> Discovery:
        self._status.state = JobState.DISCOVERING
        request = DiscoverInput(
            capability=spec.capability,
            include=spec.job_parameters.include,
            exclude=[*spec.job_parameters.exclude, *tried],
            policy=spec.policy,
            price_caps=spec.price_caps,
            fresh_tokens=fresh,
        )
        try:
            return await workflow.execute_local_activity_method(
                DiscoveryActivities.discover,
                request,
                summary=f"discover {spec.capability}"
                + (f", not {len(tried)} tried" if tried else ""),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=QUICK_RETRIES,
            )
        except StepFailed as err:
            reason, _, _ = _reason(err)
            raise self._fail(
                DiscoveryFailed(f"discovery failed for capability {spec.capability!r}: {reason}")
            ) from err

    async def _try(
        self, spec: JobSpec, candidate: Candidate
    ) -> tuple[DispatchOutcome | None, type[TollwayError]]:
        """The candidate's answer, or None and the type of the error that ended its attempt."""
        status = self._status
        status.orchestrator = candidate.url
        status.state = JobState.PAYING
        try:
            plan = await workflow.execute_local_activity_method(
                PaymentActivities.create_payment,
                PaymentInput(
                    job_id=spec.job_id,
                    capability=spec.capability,
                    candidate=candidate,
                    timeout_seconds=spec.timeout_seconds,
                ),
                summary=f"pay {candidate.url}",
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=QUICK_RETRIES,
            )
        except StepFailed as err:
            return None, self._attempt_failed(candidate, "pay", err)
        if self._cancel_requested:
            self._paid(plan)  # its tickets went: the orchestrator keeps the credit for later jobs
            self._stop_if_canceled()
        status.state = JobState.DISPATCHING
        left = self._deadline - workflow.now() + timedelta(seconds=10)
        request = DispatchInput(
            spec=spec,
            candidate=candidate,
            payment_header=plan.header,
            deadline=self._deadline.timestamp(),
        )
        started = workflow.now()
        if spec.timeout_seconds <= LOCAL_DISPATCH_SECONDS:
            self._dispatching = workflow.start_local_activity_method(
                DispatchActivities.dispatch,
                request,
                summary=f"dispatch to {candidate.url}",
                start_to_close_timeout=left,
                schedule_to_close_timeout=left,
                retry_policy=DISPATCH_RETRIES,
            )
        else:
            self._dispatching = workflow.start_activity_method(
                DispatchActivities.dispatch,
                request,
                summary=f"dispatch to {candidate.url}",
                start_to_close_timeout=left,
                schedule_to_close_timeout=left,
                heartbeat_timeout=DISPATCH_HEARTBEAT_TIMEOUT,
                retry_policy=DISPATCH_RETRIES,
            )
        try:
            outcome = await self._dispatching
        except (*StepFailed, asyncio.CancelledError) as err:
            if self._cancel_requested:
                self._paid(plan)
                await self._cancel_at(spec, candidate, started)
            if isinstance(err, asyncio.CancelledError):
                raise
            kind = self._attempt_failed(candidate, "dispatch", err)
            if not issubclass(kind, TicketParamsExpired):  # else refused: nothing credited
                self._paid(plan)
            return None, kind
        finally:
            self._dispatching = None
        self._paid(plan)
        return outcome, TollwayError

    async def _cancel_at(self, spec: JobSpec, candidate: Candidate, started: datetime) -> None:
        """Stop the job at the orchestrator it runs on, record what that run cost, and end the
        job as canceled. When the orchestrator cannot be told, the cost is what it would bill
        for the time until now, and the job's error says so."""
        status = self._status
        try:
            answer = await workflow.execute_local_activity_method(
                DispatchActivities.cancel,
                CancelInput(
                    job_id=spec.job_id, capability=spec.capability, orchestrator=candidate.url
                ),
                summary=f"cancel at {candidate.url}",
                start_to_close_timeout=timedelta(seconds=35),
                retry_policy=QUICK_RETRIES,
            )
            units, cost = answer.units, answer.cost_wei
        except StepFailed as err:
            reason, _, _ = _reason(err)
            ran = (workflow.now() - started).total_seconds()
            units = billed_units(candidate.unit, ran, None)
            cost = candidate.price.cost(units)
            status.error = f"canceled, but the orchestrator was not told: {reason}"
        await self._record_cost(spec, candidate, units, cost)
        status.state = JobState.CANCELED
        raise _Canceled

    def _paid(self, plan: PaymentPlan) -> None:
        self._status.tickets_sent += plan.tickets
        self._status.ticket_ev_wei += plan.ev_wei

    def _attempt_failed(
        self, candidate: Candidate, stage: str, err: ActivityError | ApplicationError
    ) -> type[TollwayError]:
        reason, code, kind = _reason(err)
        self._status.attempts.append(
            Attempt(
                orchestrator=candidate.url,
                stage=stage,
                reason=reason,
                status_code=code,
                transient=kind.transient,
            )
        )
        return kind

    async def _settle(
        self, spec: JobSpec, candidate: Candidate, outcome: DispatchOutcome
    ) -> JobStatus:
        status = self._status
        status.outcome = outcome
        status.state = JobState.SETTLING
        units = billed_units(candidate.unit, outcome.elapsed_seconds, outcome.units)
        await self._record_cost(spec, candidate, units, candidate.price.cost(units))
        status.state = JobState.SUCCEEDED if outcome.status_code < 400 else JobState.REJECTED
        return status

    async def _record_cost(
        self, spec: JobSpec, candidate: Candidate, units: int, cost_wei: int
    ) -> None:
        """What the job cost at `candidate`, in its status and (once) in the spend ledger."""
        status = self._status
        status.unit, status.units, status.cost_wei = candidate.unit, units, cost_wei
        await workflow.execute_local_activity_method(
            SettlementActivities.settle,
            SettleInput(
                job_id=spec.job_id,
                tenant=spec.tenant,
                capability=spec.capability,
                orchestrator=candidate.url,
                orchestrator_address=candidate.address,
                cost_wei=cost_wei,
                tickets=status.tickets_sent,
                ev_wei=status.ticket_ev_wei,
            ),
            summary=f"settle {cost_wei} wei at {candidate.url}",
            start_to_close_timeout=timedelta(seconds=10),
        )
        workflow.set_current_details(
            f"ran on {candidate.url}: {units} {candidate.unit}(s), {cost_wei} wei, "
            f"{status.tickets_sent} ticket(s) sent worth {status.ticket_ev_wei} wei"
        )

    @workflow.query
    def status(self) -> JobStatus:
        return self._status
