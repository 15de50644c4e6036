"""ContainerWorkflow: one BYOC replica: build -> start -> healthy -> register -> monitor ->
drain -> stop.

Docker work runs on the GPU worker's own task queue; registration runs on the orchestrator's.
While serving, the workflow checks the container's health every `health_check_seconds`; after
`unhealthy_threshold` failures in a row it unregisters the capability (no new work goes to a
dead replica), replaces the container after an exponential back-off, and registers the new one
once healthy. Every `checks_per_run` checks it continues as new with the running container
attached. The container carries the workflow id as a label, so a start retried after a GPU
worker crash takes over the container the lost attempt made instead of making another.

A cold-swap replica (`idle_timeout_seconds` set) starts parked: registered cold, no container.
The orchestrator's `wake` signal (a request found no free slot) starts it; after
`idle_timeout_seconds` without a request it parks again (registered cold, in-flight requests
finish, container stopped).

The `stop` signal drains first: the replica is unregistered (no new work reaches it) and the
workflow waits, up to `drain_timeout_seconds`, until the requests in flight on it finish.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from tollway.activities.containers import ContainerActivities
    from tollway.activities.registration import RegistrationActivities
    from tollway.byoc.replica import ContainerState, ContainerStatus, ServeCapabilityInput
    from tollway.byoc.spec import (
        REPLICA_LABEL,
        DrainInput,
        HealthCheckInput,
        ReplicaLoad,
        ReplicaRef,
        StopContainerInput,
        WaitHealthyInput,
    )
    from tollway.protocol.capability import ExternalCapability

__all__ = ["ONE_TRY", "ContainerWorkflow"]

GPU_RETRY = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=1))
ONE_TRY = RetryPolicy(maximum_attempts=1)


@workflow.defn(name="ContainerWorkflow")
class ContainerWorkflow:
    @workflow.init
    def __init__(self, request: ServeCapabilityInput) -> None:
        self._status = ContainerStatus(
            capability=request.spec.capability,
            replica=request.replica or workflow.info().workflow_id,
            state=ContainerState.BUILDING,
            container=request.attached,
            restarts=request.restarts,
        )
        self._stop_requested = False
        self._wake_requested = False

    @workflow.run
    async def run(self, request: ServeCapabilityInput) -> ContainerStatus:
        status = self._status
        cold_swap = request.idle_timeout_seconds is not None
        idle_timeout = request.idle_timeout_seconds or 0.0
        try:
            if request.attached is None:
                if request.build is not None and workflow.info().continued_run_id is None:
                    await workflow.execute_activity_method(
                        ContainerActivities.build_image,
                        request.build,
                        task_queue=request.gpu_task_queue,
                        start_to_close_timeout=timedelta(minutes=10),
                        retry_policy=GPU_RETRY,
                    )
                if cold_swap:
                    await self._park(request)
                else:
                    await self._bring_up(request)
            else:
                status.state = ContainerState.SERVING  # continued as new with it running
            for _ in range(request.checks_per_run):
                if status.state == ContainerState.PARKED:
                    await workflow.wait_condition(
                        lambda: self._wake_requested or self._stop_requested
                    )
                    if self._stop_requested:
                        break
                    await self._wake_up(request)
                    continue
                if await self._stop_within(request.health_check_seconds):
                    break
                if not await self._healthy(request):
                    await self._restart(request)
                elif cold_swap and await self._idle_seconds() >= idle_timeout:
                    await self._park(request)
            else:
                workflow.continue_as_new(
                    request.model_copy(
                        update={"attached": status.container, "restarts": status.restarts}
                    )
                )
            await self._drain(request)
        finally:
            if status.state != ContainerState.SERVING:  # not when continuing as new
                await self._stop_container(request)
        status.state = ContainerState.STOPPED
        return status

    async def _wake_up(self, request: ServeCapabilityInput) -> None:
        """Start a parked cold-swap replica; a start that fails is retried as a restart."""
        try:
            await self._bring_up(request)
        except ActivityError as err:
            workflow.logger.warning("waking %s failed: %s", request.spec.capability, err)
            await self._restart(request)

    async def _park(self, request: ServeCapabilityInput) -> None:
        """Cold-swap: register the replica cold (no new work, but a request wakes it), let
        requests in flight finish, and stop the container."""
        status = self._status
        self._wake_requested = False  # a request from now on wakes it again
        await self._register(request, url="")
        if status.container is not None:
            await self._drain(request, unregister=False)
            await self._stop_container(request)
            status.container = None
        status.state = ContainerState.PARKED

    async def _idle_seconds(self) -> float:
        load: ReplicaLoad = await workflow.execute_activity_method(
            RegistrationActivities.load,
            self._ref(),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
        return load.idle_seconds

    async def _bring_up(self, request: ServeCapabilityInput) -> None:
        """Start a container, wait until it is healthy and register it."""
        status = self._status
        status.state = ContainerState.STARTING
        spec = request.spec.model_copy(
            update={"labels": {**request.spec.labels, REPLICA_LABEL: workflow.info().workflow_id}}
        )
        status.container = await workflow.execute_activity_method(
            ContainerActivities.start_container,
            spec,
            task_queue=request.gpu_task_queue,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=GPU_RETRY,
        )
        status.state = ContainerState.WAITING_HEALTHY
        await workflow.execute_activity_method(
            ContainerActivities.wait_healthy,
            WaitHealthyInput(url=status.container.url, health_path=request.spec.health_path),
            task_queue=request.gpu_task_queue,
            start_to_close_timeout=timedelta(minutes=1),
            heartbeat_timeout=timedelta(seconds=10),
            retry_policy=GPU_RETRY,
        )
        await self._register(
            request, url=status.container.url, trickle_url=status.container.trickle_url
        )
        status.state = ContainerState.SERVING

    async def _register(
        self, request: ServeCapabilityInput, url: str, trickle_url: str = ""
    ) -> None:
        """Register this replica at `url`; "" registers it cold (cold-swap, not running)."""
        await workflow.execute_activity_method(
            RegistrationActivities.register,
            ExternalCapability(
                name=request.spec.capability,
                description=request.description,
                url=url,
                cold=not url,
                protocol="http" if request.spec.triton is None else "triton",
                capacity=request.capacity,
                price_per_unit=request.price.amount,
                price_scaling=request.price.scaling,
                currency=request.price.currency,
                unit=request.price.unit,
                replica=self._status.replica,
                trickle_url=trickle_url,
            ),
            start_to_close_timeout=timedelta(seconds=30),
        )

    async def _healthy(self, request: ServeCapabilityInput) -> bool:
        """`unhealthy_threshold` checks in a row, stopping at the first that passes."""
        container = self._status.container
        assert container is not None
        for _ in range(request.unhealthy_threshold):
            try:
                healthy: bool = await workflow.execute_activity_method(
                    ContainerActivities.check_health,
                    HealthCheckInput(
                        capability=request.spec.capability,
                        container_id=container.container_id,
                        url=container.url,
                        health_path=request.spec.health_path,
                    ),
                    task_queue=request.gpu_task_queue,
                    start_to_close_timeout=timedelta(seconds=10),
                    # Bounded in the queue too: with the GPU worker away, the check times out
                    # rather than waiting, so a stop signal is still seen.
                    schedule_to_close_timeout=timedelta(seconds=15),
                    retry_policy=ONE_TRY,
                )
            except ActivityError:  # the GPU worker itself is away: not the container's fault
                return True
            if healthy:
                return True
        return False

    async def _restart(self, request: ServeCapabilityInput) -> None:
        """Replace the container, backing off exponentially, until one is healthy again or a
        stop is requested."""
        status = self._status
        status.state = ContainerState.RESTARTING
        await self._unregister(request)
        while not self._stop_requested:
            await self._stop_container(request)
            status.container = None
            delay = min(
                request.max_restart_backoff_seconds,
                request.restart_backoff_seconds * 2**status.restarts,
            )
            status.restarts += 1
            if await self._stop_within(delay):
                return
            try:
                await self._bring_up(request)
                return
            except ActivityError as err:
                workflow.logger.warning("restarting %s failed: %s", request.spec.capability, err)

    async def _stop_within(self, seconds: float) -> bool:
        """Wait up to `seconds`; True when a stop was requested meanwhile."""
        try:
            await workflow.wait_condition(
                lambda: self._stop_requested, timeout=timedelta(seconds=seconds)
            )
        except TimeoutError:
            return False
        return True

    def _ref(self) -> ReplicaRef:
        return ReplicaRef(name=self._status.capability, replica=self._status.replica)

    async def _unregister(self, request: ServeCapabilityInput) -> None:
        await workflow.execute_activity_method(
            RegistrationActivities.unregister,
            self._ref(),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )

    async def _drain(self, request: ServeCapabilityInput, unregister: bool = True) -> None:
        """Unregister the replica (unless parking: it is registered cold already), then wait
        for its requests in flight to finish."""
        self._status.state = ContainerState.DRAINING
        await workflow.execute_activity_method(
            RegistrationActivities.drain,
            DrainInput(
                replica=self._ref(),
                timeout_seconds=request.drain_timeout_seconds,
                unregister=unregister,
            ),
            start_to_close_timeout=timedelta(seconds=request.drain_timeout_seconds + 30),
            heartbeat_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
        self._status.state = ContainerState.STOPPING

    async def _stop_container(self, request: ServeCapabilityInput) -> None:
        if self._status.container is None:
            return
        await workflow.execute_activity_method(
            ContainerActivities.stop_container,
            StopContainerInput(container_id=self._status.container.container_id),
            task_queue=request.gpu_task_queue,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=GPU_RETRY,
        )

    @workflow.signal
    def stop(self) -> None:
        self._stop_requested = True

    @workflow.signal
    def wake(self) -> None:
        """A request found no free slot: start a parked cold-swap replica."""
        self._wake_requested = True

    @workflow.query
    def status(self) -> ContainerStatus:
        return self._status
