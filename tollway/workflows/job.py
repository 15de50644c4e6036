"""JobWorkflow: discover -> select -> pay -> dispatch -> settle, failing over between candidates.

One workflow per job (id = job id or idempotency key). Every step is an activity so the
Temporal UI shows the job's path: discover (which also selects) and pay are local activities
(cheap, ~1 ms of overhead each), dispatch a regular one (durable, on any gateway worker).
Candidates come ranked by the market's score. One that fails with a transport error or a 5xx
is recorded as an attempt and the next one is tried, up to the job's `max_attempts`; when the
list runs out, discovery runs again without the orchestrators already tried (expired ticket
params: the same orchestrator again, with a fresh token). A 4xx from an orchestrator (a bad
request, or credit it refused) is returned to the client as the job's rejected outcome. When
every candidate fails, the job fails with `AllOrchestratorsFailed` listing each attempt (never an
empty success). Failover is decided by the activity's error type (tollway.errors), not its text.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from tollway.activities.discovery import DiscoverInput, Discovery, DiscoveryActivities
    from tollway.activities.dispatch import DispatchActivities, DispatchInput
    from tollway.activities.job import DispatchOutcome, JobSpec, JobState, JobStatus
    from tollway.activities.payment import PaymentActivities, PaymentInput
    from tollway.activities.settlement import SettlementActivities
    from tollway.errors import (
        AllOrchestratorsFailed,
        DiscoveryFailed,
        NoOrchestrator,
        TicketParamsExpired,
        TollwayError,
        error_type,
    )
    from tollway.market.selection import Attempt, Candidate
    from tollway.payments.spend import SettleInput
    from tollway.protocol.price import billed_units

__all__ = ["ONE_TRY", "JobWorkflow"]

ONE_TRY = RetryPolicy(maximum_attempts=1)
DISCOVERY_ROUNDS = 3
QUICK_RETRIES = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(milliseconds=200))


def _reason(err: ActivityError) -> tuple[str, int | None, type[TollwayError]]:
    """The activity's error message, its HTTP status where it has one, and its error type."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        details = cause.details[0] if cause.details else {}
        status = details.get("status_code") if isinstance(details, dict) else None
        return cause.message, status, error_type(cause.type)
    return str(cause or err), None, TollwayError


@workflow.defn(name="JobWorkflow")
class JobWorkflow:
    @workflow.init
    def __init__(self, spec: JobSpec) -> None:
        self._status = JobStatus(
            job_id=spec.job_id, capability=spec.capability, state=JobState.DISCOVERING
        )

    @workflow.run
    async def run(self, spec: JobSpec) -> JobStatus:
        status = self._status
        include, exclude = spec.job_parameters.include, spec.job_parameters.exclude
        tried: list[str] = []
        dispatches = 0
        for _ in range(DISCOVERY_ROUNDS):
            if dispatches >= spec.max_attempts:
                break
            discovery = await self._discover(
                spec,
                DiscoverInput(
                    capability=spec.capability,
                    include=include,
                    exclude=[*exclude, *tried],
                    policy=spec.policy,
                    price_caps=spec.price_caps,
                ),
            )
            status.attempts.extend(discovery.failures)
            if not discovery.candidates:
                break
            for candidate in discovery.candidates[: spec.max_attempts - dispatches]:
                dispatches += 1
                outcome, failure = await self._try(spec, candidate)
                if outcome is not None:
                    return await self._settle(spec, candidate, outcome)
                if not issubclass(failure, TicketParamsExpired):
                    tried.append(candidate.url)
        status.state = JobState.FAILED
        status.error = (
            f"every orchestrator tried ({dispatches}) failed for capability {spec.capability!r}"
            if dispatches
            else f"no orchestrator offers capability {spec.capability!r} with free capacity"
        )
        kind = AllOrchestratorsFailed if dispatches else NoOrchestrator
        raise self._failed(kind(status.error))

    def _failed(self, error: TollwayError) -> ApplicationError:
        """The workflow's failure: `error`'s type and message, and every attempt so far as its
        one detail (the gateway API lists them)."""
        return ApplicationError(
            error.message,
            [a.model_dump() for a in self._status.attempts],
            type=type(error).__name__,
            non_retryable=True,
        )

    async def _discover(self, spec: JobSpec, request: DiscoverInput) -> Discovery:
        try:
            return await workflow.execute_local_activity_method(
                DiscoveryActivities.discover,
                request,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=QUICK_RETRIES,
            )
        except ActivityError as err:
            reason, _, _ = _reason(err)
            self._status.state = JobState.FAILED
            self._status.error = f"discovery failed for capability {spec.capability!r}: {reason}"
            raise self._failed(DiscoveryFailed(self._status.error)) from err

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
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=QUICK_RETRIES,
            )
        except ActivityError as err:
            reason, code, kind = _reason(err)
            status.attempts.append(
                Attempt(orchestrator=candidate.url, stage="pay", reason=reason, status_code=code)
            )
            return None, kind
        status.tickets_sent += plan.tickets
        status.ticket_ev_wei += plan.ev_wei
        status.state = JobState.DISPATCHING
        try:
            outcome = await workflow.execute_activity_method(
                DispatchActivities.dispatch,
                DispatchInput(spec=spec, candidate=candidate, payment_header=plan.header),
                start_to_close_timeout=timedelta(seconds=spec.timeout_seconds + 15),
                retry_policy=ONE_TRY,
            )
        except ActivityError as err:
            reason, code, kind = _reason(err)
            status.attempts.append(
                Attempt(
                    orchestrator=candidate.url, stage="dispatch", reason=reason, status_code=code
                )
            )
            return None, kind
        return outcome, TollwayError

    async def _settle(
        self, spec: JobSpec, candidate: Candidate, outcome: DispatchOutcome
    ) -> JobStatus:
        status = self._status
        status.outcome = outcome
        status.state = JobState.SETTLING
        units = billed_units(candidate.unit, outcome.elapsed_seconds, outcome.units)
        status.cost_wei = candidate.price.cost(units)
        await workflow.execute_local_activity_method(
            SettlementActivities.settle,
            SettleInput(
                job_id=spec.job_id,
                tenant=spec.tenant,
                capability=spec.capability,
                orchestrator=candidate.url,
                orchestrator_address=candidate.address,
                cost_wei=status.cost_wei,
                tickets=status.tickets_sent,
                ev_wei=status.ticket_ev_wei,
            ),
            start_to_close_timeout=timedelta(seconds=10),
        )
        status.state = JobState.SUCCEEDED if outcome.status_code < 400 else JobState.REJECTED
        return status

    @workflow.query
    def status(self) -> JobStatus:
        return self._status
