"""StreamWorkflow: one live stream, from start to stop, visible in the Temporal UI.

It picks an orchestrator (discover, as a job does), pays for the start and starts the stream
there, then has the gateway API that holds the client's channels relay them to it. When that
orchestrator fails (the relay breaks, or it closes the stream's channels) the stream moves to
the next one with the same parameters: a swap, which the client does not see (its URLs and
segment numbers stay). It stops when asked (`stop`), or fails when more than `max_swaps`
swaps were needed or no orchestrator is left, naming each attempt.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from tollway.activities.discovery import DiscoverInput, Discovery, DiscoveryActivities
    from tollway.activities.payment import PaymentActivities, PaymentInput
    from tollway.activities.relay import RelayActivities, RelayInput
    from tollway.activities.streams import (
        PayOnInput,
        StartOnInput,
        StopOnInput,
        StreamActivities,
        StreamSpec,
        StreamUrls,
        UpdateOnInput,
    )
    from tollway.errors import AllOrchestratorsFailed, StreamStopped
    from tollway.schemas.jobs import Attempt
    from tollway.temporal import ORCHESTRATOR, STATE, SWAPS

__all__ = ["StreamCarried", "StreamStatus", "StreamWorkflow"]

QUICK_RETRIES = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(milliseconds=200))
RELAY_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
RELAY_RETRIES = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=5)
)
"""A relay whose gateway API died starts again when it is back; an orchestrator's failure is
not retried here (non-retryable: the stream swaps)."""
START_SECONDS = 70
"""The credit a start pays for (the orchestrator asks for 60 s)."""
StepFailed = (ActivityError, ApplicationError)


class StreamStatus(BaseModel):
    stream_id: str
    capability: str
    state: str = "starting"
    """starting, running, swapping, stopped or failed."""
    orchestrator: str | None = None
    swaps: int = 0
    payments: int = 0
    """Payments sent, the start's included."""
    ticket_ev_wei: int = 0
    attempts: list[Attempt] = []
    error: str | None = None
    """Why the stream failed."""
    ended: str | None = None
    """Why the stream stopped without a stop request (the client went away)."""


class StreamCarried(BaseModel):
    """What a stream's next run takes over: where it stands, and the orchestrator it runs on."""

    status: StreamStatus
    tried: list[str] = []
    running_on: StreamUrls | None = None


def _reason(err: ActivityError | ApplicationError) -> str:
    cause = err if isinstance(err, ApplicationError) else err.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or err)


SEARCH_ATTRIBUTES_PATCH = "search-attributes"


@workflow.defn(name="StreamWorkflow", sandboxed=False)
class StreamWorkflow:
    @workflow.init
    def __init__(self, spec: StreamSpec, carried: StreamCarried | None = None) -> None:
        self._status = (
            carried.status
            if carried
            else StreamStatus(stream_id=spec.stream_id, capability=spec.capability)
        )
        self._carried = carried
        self._stop = False
        self._payments_this_run = 0
        self._continue = False
        self._spec = spec
        """The stream as it is now: its parameters change with each update (a swap starts
        the next orchestrator with the latest)."""

    @workflow.run
    async def run(self, spec: StreamSpec, carried: StreamCarried | None = None) -> StreamStatus:
        status = self._status
        tried: list[str] = list(carried.tried) if carried else []
        try:
            running_on = await self._serve(spec, tried)
        except ApplicationError:
            # A failed stream answers the `started` update waiting on it before it ends.
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise
        await workflow.wait_condition(workflow.all_handlers_finished)  # an update in flight
        if running_on is not None:  # long enough in this run: the next takes over
            carried = StreamCarried(status=status, tried=tried, running_on=running_on)
            workflow.continue_as_new(args=[self._spec, carried])
        status.state = "stopped"
        self._show()
        return status

    async def _serve(self, spec: StreamSpec, tried: list[str]) -> StreamUrls | None:
        """Serve the stream until it stops (None), or until this run has paid enough times
        (the orchestrator it runs on, to go on with in the next run)."""
        status = self._status
        resume = self._carried.running_on if self._carried else None
        try:
            while not self._stop:
                urls = resume or await self._start_somewhere(spec, tried)
                resume = None
                if urls is None:
                    break  # stopped while starting
                failure = await self._relay(spec, urls)
                if failure is None and self._continue and not self._stop:
                    return urls  # the stream runs on; its channels stay open
                await self._stop_on(spec, urls.orchestrator)
                if failure is None:
                    break
                tried.append(urls.orchestrator)
                status.attempts.append(
                    Attempt(orchestrator=urls.orchestrator, stage="stream", reason=failure)
                )
                if status.swaps >= spec.max_swaps:
                    raise self._fail(f"the stream failed {status.swaps + 1} times: {failure}")
                status.swaps += 1
                status.state = "swapping"
                self._show()
            return None
        finally:
            if not self._continue or self._stop:
                await self._close_channels(spec)

    async def _close_channels(self, spec: StreamSpec) -> None:
        await workflow.execute_activity_method(
            RelayActivities.close,
            spec.stream_id,
            task_queue=spec.relay_task_queue,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=QUICK_RETRIES,
        )

    @workflow.signal
    def stop(self) -> None:
        self._stop = True

    @workflow.update
    async def update(self, params: dict[str, Any]) -> StreamStatus:
        """New parameters for the pipeline: given to the running container now, and to the
        next orchestrator's on a swap."""
        self._spec = self._spec.model_copy(update={"params": params})
        orchestrator = self._status.orchestrator
        if self._status.state == "running" and orchestrator is not None:
            await workflow.execute_activity_method(
                StreamActivities.update_on,
                UpdateOnInput(spec=self._spec, orchestrator=orchestrator, params=params),
                start_to_close_timeout=timedelta(seconds=45),
                retry_policy=QUICK_RETRIES,
            )
        return self._status

    @update.validator
    def _update_allowed(self, params: dict[str, Any]) -> None:
        if self._stop or self._status.state in ("stopped", "failed"):
            raise ApplicationError(
                f"stream {self._status.stream_id!r} is {self._status.state}",
                type=StreamStopped.__name__,
                non_retryable=True,
            )

    @workflow.update
    async def started(self) -> StreamStatus:
        """Waits until the stream runs on an orchestrator, has failed to, or was stopped."""
        await workflow.wait_condition(lambda: self._status.state != "starting" or self._stop)
        return self._status

    @workflow.query
    def status(self) -> StreamStatus:
        return self._status

    def _show(self) -> None:
        """The stream's state, orchestrator and swaps in its search attributes (not for a
        stream started before they were set)."""
        if not workflow.patched(SEARCH_ATTRIBUTES_PATCH):
            return
        status = self._status
        updates: list[SearchAttributeUpdate[Any]] = [
            STATE.value_set(status.state),
            SWAPS.value_set(status.swaps),
        ]
        if status.orchestrator is not None:
            updates.append(ORCHESTRATOR.value_set(status.orchestrator))
        workflow.upsert_search_attributes(updates)

    def _fail(self, message: str) -> ApplicationError:
        self._status.state = "failed"
        self._status.error = message
        self._show()
        return ApplicationError(
            message,
            [a.model_dump() for a in self._status.attempts],
            type=AllOrchestratorsFailed.__name__,
            non_retryable=True,
        )

    async def _discover(
        self,
        spec: StreamSpec,
        exclude: list[str] | None = None,
        include: list[str] | None = None,
        fresh: list[str] | None = None,
    ) -> Discovery:
        return await workflow.execute_local_activity_method(
            DiscoveryActivities.discover,
            DiscoverInput(
                capability=spec.capability,
                include=include or [],
                exclude=exclude or [],
                policy=spec.policy,
                price_caps=spec.price_caps,
                fresh_tokens=fresh or [],
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=QUICK_RETRIES,
        )

    async def _start_somewhere(self, spec: StreamSpec, tried: list[str]) -> StreamUrls | None:
        """Start the stream on the best orchestrator not tried yet; None once stopped."""
        status = self._status
        while not self._stop:
            discovery = await self._discover(spec, exclude=tried)
            status.attempts.extend(discovery.failures)
            if not discovery.candidates:
                raise self._fail(
                    f"no orchestrator left to serve stream {spec.stream_id!r} "
                    f"(capability {spec.capability!r})"
                )
            candidate = discovery.candidates[0]
            hold = f"{spec.stream_id}.start.{len(status.attempts)}.{status.swaps}"
            try:
                plan = await workflow.execute_local_activity_method(
                    PaymentActivities.create_payment,
                    PaymentInput(
                        job_id=hold,
                        capability=spec.capability,
                        candidate=candidate,
                        timeout_seconds=START_SECONDS,
                    ),
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=QUICK_RETRIES,
                )
                urls = await workflow.execute_activity_method(
                    StreamActivities.start_on,
                    StartOnInput(
                        spec=self._spec,
                        candidate=candidate,
                        payment_header=plan.header,
                        hold_id=hold,
                    ),
                    start_to_close_timeout=timedelta(seconds=45),
                    retry_policy=RetryPolicy(maximum_attempts=1),
                )
            except StepFailed as err:
                tried.append(candidate.url)
                status.attempts.append(
                    Attempt(orchestrator=candidate.url, stage="start", reason=_reason(err))
                )
                continue
            status.payments += 1
            status.ticket_ev_wei += plan.ev_wei
            status.orchestrator = urls.orchestrator
            status.state = "running"
            self._show()
            return urls
        return None

    async def _relay(self, spec: StreamSpec, urls: StreamUrls) -> str | None:
        """Relay until stopped (None) or the orchestrator fails (why)."""
        relay = workflow.start_activity_method(
            RelayActivities.relay,
            RelayInput(
                stream_id=spec.stream_id,
                urls=urls,
                event_silence_seconds=spec.event_silence_seconds,
                client_idle_seconds=spec.client_idle_seconds,
            ),
            task_queue=spec.relay_task_queue,
            start_to_close_timeout=timedelta(days=7),
            heartbeat_timeout=RELAY_HEARTBEAT_TIMEOUT,
            retry_policy=RELAY_RETRIES,
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        every = timedelta(seconds=spec.payment_seconds)
        while True:
            try:
                await workflow.wait_condition(lambda: self._stop or relay.done(), timeout=every)
                break
            except TimeoutError:
                await self._pay(spec, urls.orchestrator)
                self._payments_this_run += 1
                if (
                    self._payments_this_run >= spec.payments_per_run
                    or workflow.info().is_continue_as_new_suggested()
                ):
                    self._continue = True
                    break
        if not relay.done():
            relay.cancel()
        try:
            gone = await relay
            if gone:
                self._stop = True
                self._status.ended = gone
        except StepFailed as err:
            return None if self._stop or self._continue else _reason(err)
        except BaseException:
            if not (self._stop or self._continue):
                raise
        return None

    async def _pay(self, spec: StreamSpec, orchestrator: str) -> None:
        """Pay the running stream's orchestrator for the next START_SECONDS, on a fresh token.
        A payment that fails is recorded and tried again at the next interval; an orchestrator
        whose credit for the stream runs out stops it, and the relay fails over."""
        status = self._status
        hold = f"{spec.stream_id}.pay.{status.payments}.{status.swaps}"
        try:
            discovery = await self._discover(spec, include=[orchestrator], fresh=[orchestrator])
            candidates = [c for c in discovery.candidates if c.url == orchestrator]
            if not candidates:
                raise ApplicationError(f"{orchestrator} gave no token", non_retryable=True)
            plan = await workflow.execute_local_activity_method(
                PaymentActivities.create_payment,
                PaymentInput(
                    job_id=hold,
                    capability=spec.capability,
                    candidate=candidates[0],
                    timeout_seconds=START_SECONDS,
                ),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=QUICK_RETRIES,
            )
            if plan.header is None:
                return  # free work
            await workflow.execute_activity_method(
                StreamActivities.pay_on,
                PayOnInput(
                    spec=spec, orchestrator=orchestrator, payment_header=plan.header, hold_id=hold
                ),
                start_to_close_timeout=timedelta(seconds=45),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        except StepFailed as err:
            status.attempts.append(
                Attempt(orchestrator=orchestrator, stage="pay", reason=_reason(err))
            )
            return
        status.payments += 1
        status.ticket_ev_wei += plan.ev_wei

    async def _stop_on(self, spec: StreamSpec, orchestrator: str) -> None:
        await workflow.execute_activity_method(
            StreamActivities.stop_on,
            StopOnInput(spec=spec, orchestrator=orchestrator),
            start_to_close_timeout=timedelta(seconds=15),
            retry_policy=QUICK_RETRIES,
        )
