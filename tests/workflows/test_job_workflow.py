"""JobWorkflow's decisions (failover order, retry budget, rediscovery, final errors) with
stand-in activities; ranking itself is tollway.market.selection's (tests/unit/test_scoring.py)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tollway.activities.discovery import DiscoverInput, Discovery
from tollway.activities.dispatch import CancelAnswer, CancelInput, DispatchInput
from tollway.activities.job import JobSpec
from tollway.activities.payment import PaymentInput, PaymentPlan
from tollway.activities.records import JobEnded
from tollway.market.selection import Candidate
from tollway.payments.spend import SettleInput
from tollway.schemas.jobs import DispatchOutcome, JobStatus
from tollway.workflows.job import JobWorkflow


def candidate(url: str, price: int, capacity: int = 1) -> Candidate:
    return Candidate(
        url=url,
        address="0x" + "11" * 20,
        price_per_unit=price,
        capacity=capacity,
        balance_wei=0,
        ticket_params={},
    )


class StandInMarket:
    """Stand-in activities: a scripted market where some orchestrators fail."""

    def __init__(
        self, candidates: list[Candidate], failing: dict[str, int], fanout: int = 10
    ) -> None:
        self.candidates = candidates
        self.failing = failing
        self.fanout = fanout
        self.dispatched: list[str] = []
        self.settled: list[SettleInput] = []
        self.ended: list[JobEnded] = []
        self.canceled: list[str] = []
        self.discoveries: list[DiscoverInput] = []

    @activity.defn(name="discover_orchestrators")
    async def discover(self, request: DiscoverInput) -> Discovery:
        self.discoveries.append(request)
        chosen = [c for c in self.candidates if c.url not in request.exclude]
        return Discovery(candidates=chosen[: self.fanout], failures=[])

    @activity.defn(name="create_payment")
    async def pay(self, request: PaymentInput) -> PaymentPlan:
        return PaymentPlan(header="stand-in", tickets=2, ev_wei=10)

    @activity.defn(name="dispatch_job")
    async def dispatch(self, request: DispatchInput) -> DispatchOutcome:
        url = request.candidate.url
        self.dispatched.append(url)
        if url in self.failing:
            code = self.failing[url]
            raise ApplicationError(
                f"answered {code}",
                {"status_code": code},
                type="OrchestratorFailed",
                non_retryable=True,
            )
        return DispatchOutcome(
            status_code=200,
            output_artifact="0" * 32,
            output_bytes=3,
            content_type="text/plain",
            elapsed_seconds=1.5,
            balance_wei=5,
        )

    @activity.defn(name="settle_job")
    async def settle(self, entry: SettleInput) -> bool:
        self.settled.append(entry)
        return True

    @activity.defn(name="record_job_end")
    async def job_ended(self, end: JobEnded) -> None:
        self.ended.append(end)

    @activity.defn(name="cancel_dispatch")
    async def cancel(self, request: CancelInput) -> CancelAnswer:
        self.canceled.append(request.orchestrator)
        return CancelAnswer(canceled=True, units=2, cost_wei=2 * 20)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.discover, self.pay, self.dispatch, self.settle, self.job_ended, self.cancel
        ]  # fmt: skip


async def run_job(
    env: WorkflowEnvironment,
    market: StandInMarket,
    max_price: int | None = None,
    max_attempts: int = 4,
    policy: str = "balanced",
    timeout_seconds: int = 60,
) -> JobStatus:
    queue = f"jobs-{uuid.uuid4()}"
    spec = JobSpec(
        job_id=f"job-{uuid.uuid4()}",
        capability="echo",
        input_artifact="0" * 32,
        price_caps={} if max_price is None else {"second": max_price},
        max_attempts=max_attempts,
        policy=policy,
        timeout_seconds=timeout_seconds,
    )
    async with Worker(
        env.client, task_queue=queue, workflows=[JobWorkflow], activities=market.all()
    ):
        return await env.client.execute_workflow(
            JobWorkflow.run, spec, id=spec.job_id, task_queue=queue
        )


async def test_fails_over_in_the_order_discovery_ranked(
    workflow_env: WorkflowEnvironment,
) -> None:
    market = StandInMarket(
        [candidate("http://a", 10), candidate("http://b", 20), candidate("http://c", 30)],
        failing={"http://a": 503},
    )
    status = await run_job(workflow_env, market)
    assert market.dispatched == ["http://a", "http://b"]
    assert status.state == "succeeded"
    assert status.orchestrator == "http://b"
    assert [(a.orchestrator, a.status_code) for a in status.attempts] == [("http://a", 503)]
    # ceil(1.5 s) x 20 wei/s, recorded once; tickets of both attempts are counted.
    assert status.cost_wei == 40
    assert status.tickets_sent == 4
    assert [s.cost_wei for s in market.settled] == [40]
    # Its end is recorded once, for the job index and its budget.
    [end] = market.ended
    assert (end.state, end.cost_wei, end.orchestrator) == ("succeeded", 40, "http://b")
    assert (end.unit, end.units, end.budget_held) == ("second", 2, False)


async def test_discovery_gets_the_jobs_policy_and_price_cap(
    workflow_env: WorkflowEnvironment,
) -> None:
    market = StandInMarket([candidate("http://a", 10)], failing={})
    await run_job(workflow_env, market, max_price=50, policy="cheapest")
    assert [(d.policy, d.price_caps) for d in market.discoveries] == [("cheapest", {"second": 50})]


async def test_rediscovers_without_the_failed_when_the_list_runs_out(
    workflow_env: WorkflowEnvironment,
) -> None:
    market = StandInMarket(
        [candidate("http://a", 1), candidate("http://b", 2), candidate("http://c", 3)],
        failing={"http://a": 500, "http://b": 502},
        fanout=1,
    )
    status = await run_job(workflow_env, market)
    assert market.dispatched == ["http://a", "http://b", "http://c"]
    assert [d.exclude for d in market.discoveries] == [[], ["http://a"], ["http://a", "http://b"]]
    assert status.orchestrator == "http://c"


async def test_the_retry_budget_caps_dispatches(workflow_env: WorkflowEnvironment) -> None:
    urls = [f"http://o{i}" for i in range(6)]
    market = StandInMarket(
        [candidate(url, 1) for url in urls], failing=dict.fromkeys(urls, 500), fanout=2
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await run_job(workflow_env, market, max_attempts=3)
    assert market.dispatched == urls[:3]
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "AllOrchestratorsFailed"
    assert "(3)" in str(cause.message)


async def test_every_candidate_failing_fails_the_job_with_each_attempt(
    workflow_env: WorkflowEnvironment,
) -> None:
    market = StandInMarket(
        [candidate("http://a", 1), candidate("http://b", 2)],
        failing={"http://a": 500, "http://b": 502},
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await run_job(workflow_env, market)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "AllOrchestratorsFailed"
    attempts = cause.details[0]
    assert [(a["orchestrator"], a["status_code"]) for a in attempts] == [
        ("http://a", 500),
        ("http://b", 502),
    ]
    assert market.settled == []
    assert [(e.state, e.cost_wei) for e in market.ended] == [("failed", None)]


async def test_no_candidate_is_no_orchestrator(workflow_env: WorkflowEnvironment) -> None:
    market = StandInMarket([], failing={})
    with pytest.raises(WorkflowFailureError) as failure:
        await run_job(workflow_env, market)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "NoOrchestrator"
    assert market.dispatched == []


class ExpiringMarket(StandInMarket):
    """The first dispatch is refused with `refusal` (params expired, or credit short); fresh
    tokens then succeed."""

    def __init__(self, refusal: str) -> None:
        super().__init__([candidate("http://a", 1)], failing={})
        self.refusal = refusal

    @activity.defn(name="dispatch_job")
    async def dispatch(self, request: DispatchInput) -> DispatchOutcome:
        if not self.dispatched:
            self.dispatched.append(request.candidate.url)
            raise ApplicationError(
                "the orchestrator asks for a fresh token", type=self.refusal, non_retryable=True
            )
        return await super().dispatch(request)


@pytest.mark.parametrize(
    ("refusal", "payments_counted"),
    [("TicketParamsExpired", 1), ("InsufficientCredit", 2)],
)
async def test_a_fresh_token_is_fetched_from_the_same_orchestrator(
    workflow_env: WorkflowEnvironment, refusal: str, payments_counted: int
) -> None:
    """Expired params: the payment was refused, so only the second counts as paid; credit
    short: the first payment was credited all the same, so both count."""
    market = ExpiringMarket(refusal)
    status = await run_job(workflow_env, market)
    assert status.state == "succeeded"
    assert len(market.discoveries) == 2
    assert [d.fresh_tokens for d in market.discoveries] == [[], ["http://a"]]  # not reused
    assert market.dispatched == ["http://a", "http://a"]
    assert [a.reason for a in status.attempts] == ["the orchestrator asks for a fresh token"]
    assert (status.tickets_sent, status.ticket_ev_wei) == (
        2 * payments_counted,
        10 * payments_counted,
    )


class RestartingMarket(StandInMarket):
    """Its only orchestrator is unreachable for its first `down_for` dispatches (restarting)."""

    def __init__(self, down_for: int) -> None:
        super().__init__([candidate("http://restarting", 1)], failing={})
        self.down_for = down_for

    @activity.defn(name="dispatch_job")
    async def dispatch(self, request: DispatchInput) -> DispatchOutcome:
        if len(self.dispatched) < self.down_for:
            self.dispatched.append(request.candidate.url)
            raise ApplicationError(
                "transport error: ConnectError('connection refused')",
                type="OrchestratorUnreachable",
                non_retryable=True,
            )
        return await super().dispatch(request)


async def test_an_orchestrator_that_is_down_is_asked_again_until_it_is_back(
    workflow_env: WorkflowEnvironment,
) -> None:
    market = RestartingMarket(down_for=3)
    status = await run_job(workflow_env, market, max_attempts=1)
    assert status.state == "succeeded"
    assert market.dispatched == ["http://restarting"] * 4
    # Between rounds the job waited and asked everyone again: nobody stayed excluded.
    assert [d.exclude for d in market.discoveries] == [[], ["http://restarting"]] * 3 + [[]]
    assert [(a.orchestrator, a.stage, a.transient) for a in status.attempts] == [
        ("http://restarting", "dispatch", True)
    ] * 3


async def test_a_job_waits_for_a_down_orchestrator_no_longer_than_its_deadline(
    workflow_env: WorkflowEnvironment,
) -> None:
    market = RestartingMarket(down_for=1_000)
    started = time.monotonic()
    with pytest.raises(WorkflowFailureError) as failure:
        await run_job(workflow_env, market, timeout_seconds=3)
    assert time.monotonic() - started < 5
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "DeadlinePassed"
    assert "deadline (3 s)" in str(cause.message)
    attempts = cause.details[0]
    assert len(attempts) == len(market.dispatched) >= 3
    assert {a["orchestrator"] for a in attempts} == {"http://restarting"}


async def test_the_deadline_reaches_the_dispatch(workflow_env: WorkflowEnvironment) -> None:
    market = StandInMarket([candidate("http://a", 1)], failing={})
    seen: list[float] = []
    original = market.dispatch

    @activity.defn(name="dispatch_job")
    async def dispatch(request: DispatchInput) -> DispatchOutcome:
        seen.append(request.deadline - time.time())
        return await original(request)

    market.dispatch = dispatch  # type: ignore[method-assign]
    await run_job(workflow_env, market, timeout_seconds=30)
    assert len(seen) == 1 and 25 < seen[0] <= 30


class UnofferedMarket(StandInMarket):
    @activity.defn(name="discover_orchestrators")
    async def discover(self, request: DiscoverInput) -> Discovery:
        return Discovery(candidates=[], failures=[], not_offering=2)


async def test_orchestrators_not_offering_the_capability_are_not_attempts(
    workflow_env: WorkflowEnvironment,
) -> None:
    with pytest.raises(WorkflowFailureError) as failure:
        await run_job(workflow_env, UnofferedMarket([], failing={}))
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "NoOrchestrator"
    assert "(2 known orchestrator(s) do not offer it)" in str(cause.message)
    assert cause.details[0] == []


class SlowMarket(StandInMarket):
    """Its one orchestrator takes a minute over a job (until the job is canceled)."""

    def __init__(self) -> None:
        super().__init__([candidate("http://slow", 20)], failing={})

    @activity.defn(name="dispatch_job")
    async def dispatch(self, request: DispatchInput) -> DispatchOutcome:
        self.dispatched.append(request.candidate.url)
        await asyncio.sleep(60)  # canceled: CancelledError
        return await super().dispatch(request)


async def start_job(
    env: WorkflowEnvironment, market: StandInMarket, queue: str, timeout_seconds: int = 60
) -> WorkflowHandle[JobWorkflow, JobStatus]:
    spec = JobSpec(
        job_id=f"job-{uuid.uuid4()}",
        capability="echo",
        input_artifact="0" * 32,
        timeout_seconds=timeout_seconds,
    )
    return await env.client.start_workflow(JobWorkflow.run, spec, id=spec.job_id, task_queue=queue)


async def test_a_job_canceled_while_it_runs_costs_the_time_it_ran(
    workflow_env: WorkflowEnvironment,
) -> None:
    market = SlowMarket()
    queue = f"jobs-{uuid.uuid4()}"
    async with Worker(
        workflow_env.client, task_queue=queue, workflows=[JobWorkflow], activities=market.all()
    ):
        handle = await start_job(workflow_env, market, queue)
        deadline = time.monotonic() + 10
        while not market.dispatched:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        answered = await handle.execute_update(JobWorkflow.cancel)
        status = await handle.result()
    assert answered.state == status.state == "canceled"
    assert market.canceled == ["http://slow"]
    assert (status.cost_wei, status.units, status.orchestrator) == (40, 2, "http://slow")
    assert [s.cost_wei for s in market.settled] == [40]
    [end] = market.ended
    assert (end.state, end.cost_wei) == ("canceled", 40)


async def test_a_job_canceled_before_dispatch_costs_nothing(
    workflow_env: WorkflowEnvironment,
) -> None:
    market = RestartingMarket(down_for=1_000)  # it waits for an orchestrator to come back
    queue = f"jobs-{uuid.uuid4()}"
    async with Worker(
        workflow_env.client, task_queue=queue, workflows=[JobWorkflow], activities=market.all()
    ):
        handle = await start_job(workflow_env, market, queue)
        deadline = time.monotonic() + 10
        while (await handle.query(JobWorkflow.status)).state != "waiting":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        answered = await handle.execute_update(JobWorkflow.cancel)
        status = await handle.result()
        # Canceling an ended job changes nothing.
        again = await handle.query(JobWorkflow.status)
    assert answered.state == status.state == again.state == "canceled"
    assert market.canceled == [] and market.settled == []
    assert status.cost_wei is None
    assert [(e.state, e.cost_wei) for e in market.ended] == [("canceled", None)]
