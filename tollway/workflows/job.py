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
empty success).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from tollway.errors import BadJobHeader
    from tollway.models import (
        Attempt,
        Candidate,
        DiscoverInput,
        Discovery,
        DispatchInput,
        DispatchOutcome,
        JobSpec,
        JobState,
        JobStatus,
        PaymentInput,
        PaymentPlan,
        SettleInput,
    )
    from tollway.pricing import billed_units
    from tollway.selection import orchestrator_filter

ONE_TRY = RetryPolicy(maximum_attempts=1)
DISCOVERY_ROUNDS = 3
PARAMS_EXPIRED = "ticket params expired"
QUICK_RETRIES = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(milliseconds=200))


def _reason(err: ActivityError) -> tuple[str, int | None]:
    cause = err.cause
    if isinstance(cause, ApplicationError):
        details = cause.details[0] if cause.details else {}
        status = details.get("status_code") if isinstance(details, dict) else None
        return cause.message, status
    return str(cause or err), None


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
        try:
            include, exclude = orchestrator_filter(spec.parameters)
        except BadJobHeader as exc:
            raise ApplicationError(exc.message, type="BadJobHeader", non_retryable=True) from exc
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
                outcome = await self._try(spec, candidate)
                if outcome is not None:
                    return await self._settle(spec, candidate, outcome)
                if not status.attempts[-1].reason.startswith(PARAMS_EXPIRED):
                    tried.append(candidate.url)
        status.state = JobState.FAILED
        kind = "AllOrchestratorsFailed" if dispatches else "NoOrchestrator"
        status.error = (
            f"every orchestrator tried ({dispatches}) failed for capability {spec.capability!r}"
            if dispatches
            else f"no orchestrator offers capability {spec.capability!r} with free capacity"
        )
        raise ApplicationError(
            status.error,
            [a.model_dump() for a in status.attempts],
            type=kind,
            non_retryable=True,
        )

    async def _discover(self, spec: JobSpec, request: DiscoverInput) -> Discovery:
        try:
            discovery: Discovery = await workflow.execute_local_activity(
                "discover_orchestrators",
                request,
                result_type=Discovery,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=QUICK_RETRIES,
            )
        except ActivityError as err:
            reason, _ = _reason(err)
            self._status.state = JobState.FAILED
            self._status.error = f"discovery failed for capability {spec.capability!r}: {reason}"
            raise ApplicationError(
                self._status.error,
                [a.model_dump() for a in self._status.attempts],
                type="DiscoveryFailed",
                non_retryable=True,
            ) from err
        return discovery

    async def _try(self, spec: JobSpec, candidate: Candidate) -> DispatchOutcome | None:
        status = self._status
        status.orchestrator = candidate.url
        status.state = JobState.PAYING
        try:
            plan = await workflow.execute_local_activity(
                "create_payment",
                PaymentInput(
                    job_id=spec.job_id,
                    capability=spec.capability,
                    candidate=candidate,
                    timeout_seconds=spec.timeout_seconds,
                ),
                result_type=PaymentPlan,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=QUICK_RETRIES,
            )
        except ActivityError as err:
            reason, code = _reason(err)
            status.attempts.append(
                Attempt(orchestrator=candidate.url, stage="pay", reason=reason, status_code=code)
            )
            return None
        status.tickets_sent += plan.tickets
        status.ticket_ev_wei += plan.ev_wei
        status.state = JobState.DISPATCHING
        try:
            outcome: DispatchOutcome = await workflow.execute_activity(
                "dispatch_job",
                DispatchInput(spec=spec, candidate=candidate, payment_header=plan.header),
                result_type=DispatchOutcome,
                start_to_close_timeout=timedelta(seconds=spec.timeout_seconds + 15),
                retry_policy=ONE_TRY,
            )
        except ActivityError as err:
            reason, code = _reason(err)
            status.attempts.append(
                Attempt(
                    orchestrator=candidate.url, stage="dispatch", reason=reason, status_code=code
                )
            )
            return None
        return outcome

    async def _settle(
        self, spec: JobSpec, candidate: Candidate, outcome: DispatchOutcome
    ) -> JobStatus:
        status = self._status
        status.outcome = outcome
        status.state = JobState.SETTLING
        units = billed_units(candidate.unit, outcome.elapsed_seconds, outcome.units)
        status.cost_wei = units * candidate.price_per_unit // candidate.pixels_per_unit
        await workflow.execute_local_activity(
            "settle_job",
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
