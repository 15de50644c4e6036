"""JobWorkflow: discover -> select -> pay -> dispatch -> settle, failing over between candidates.

One workflow per job (id = job id or idempotency key). Every step is an activity so the
Temporal UI shows the job's path: discover and pay are local activities (cheap, ~1 ms of
overhead each), dispatch a regular one (durable, on any gateway worker). A candidate that
fails with a transport error or a 5xx is recorded as an attempt and the next one is tried.
Any other 4xx from an orchestrator (a bad request, or credit it refused) is returned to the
client as the job's rejected outcome; expired ticket params trigger one fresh discovery. When
every candidate fails, the job fails with `AllOrchestratorsFailed` listing each attempt (never an
empty success).
"""

from __future__ import annotations

import math
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
    from tollway.selection import orchestrator_filter, rank_candidates

ONE_TRY = RetryPolicy(maximum_attempts=1)
DISCOVERY_ROUNDS = 2
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
        tried_any = False
        for _ in range(DISCOVERY_ROUNDS):
            discovery = await workflow.execute_local_activity(
                "discover_orchestrators",
                DiscoverInput(capability=spec.capability, include=include, exclude=exclude),
                result_type=Discovery,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=QUICK_RETRIES,
            )
            status.attempts.extend(discovery.failures)
            candidates, refused = rank_candidates(
                discovery.candidates, spec.max_price_wei_per_second
            )
            status.attempts.extend(refused)
            tried_any = tried_any or bool(candidates)
            for candidate in candidates:
                outcome = await self._try(spec, candidate)
                if outcome is not None:
                    return await self._settle(spec, candidate, outcome)
            if not any(a.reason.startswith(PARAMS_EXPIRED) for a in status.attempts):
                break
            # Ticket params went stale between discovery and payment: fetch fresh tokens once.
        status.state = JobState.FAILED
        kind = "AllOrchestratorsFailed" if tried_any else "NoOrchestrator"
        status.error = (
            f"every orchestrator failed for capability {spec.capability!r}"
            if tried_any
            else f"no orchestrator offers capability {spec.capability!r} with free capacity"
        )
        raise ApplicationError(
            status.error,
            [a.model_dump() for a in status.attempts],
            type=kind,
            non_retryable=True,
        )

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
        seconds = max(1, math.ceil(outcome.elapsed_seconds))
        status.cost_wei = seconds * candidate.price_per_unit // candidate.pixels_per_unit
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
