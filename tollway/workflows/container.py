"""ContainerWorkflow: one BYOC replica: build -> start -> healthy -> register -> serve -> stop.

Docker work runs on the GPU worker's own task queue; registration runs on the orchestrator's.
A later issue adds health monitoring with restarts, draining and re-attachment.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from tollway.byoc.registry import ExternalCapability
    from tollway.byoc.spec import StartedContainer, StopContainerInput, WaitHealthyInput
    from tollway.models import ContainerState, ContainerStatus, ServeCapabilityInput

GPU_RETRY = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=1))


@workflow.defn(name="ContainerWorkflow")
class ContainerWorkflow:
    @workflow.init
    def __init__(self, request: ServeCapabilityInput) -> None:
        self._status = ContainerStatus(
            capability=request.spec.capability, state=ContainerState.BUILDING
        )
        self._stop_requested = False

    @workflow.run
    async def run(self, request: ServeCapabilityInput) -> ContainerStatus:
        gpu = request.gpu_task_queue
        if request.build is not None:
            await workflow.execute_activity(
                "build_image",
                request.build,
                task_queue=gpu,
                start_to_close_timeout=timedelta(minutes=10),
                retry_policy=GPU_RETRY,
            )
        self._status.state = ContainerState.STARTING
        started = await workflow.execute_activity(
            "start_container",
            request.spec,
            result_type=StartedContainer,
            task_queue=gpu,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=GPU_RETRY,
        )
        self._status.container = started
        try:
            self._status.state = ContainerState.WAITING_HEALTHY
            await workflow.execute_activity(
                "wait_healthy",
                WaitHealthyInput(url=started.url, health_path=request.spec.health_path),
                task_queue=gpu,
                start_to_close_timeout=timedelta(minutes=1),
                heartbeat_timeout=timedelta(seconds=10),
                retry_policy=GPU_RETRY,
            )
            capability = ExternalCapability(
                name=request.spec.capability,
                description=request.description,
                url=started.url,
                capacity=request.capacity,
                price_per_unit=request.price_wei_per_second,
            )
            await workflow.execute_activity(
                "register_capability",
                capability,
                start_to_close_timeout=timedelta(seconds=30),
            )
            self._status.state = ContainerState.SERVING
            await workflow.wait_condition(lambda: self._stop_requested)
            self._status.state = ContainerState.STOPPING
            await workflow.execute_activity(
                "unregister_capability",
                request.spec.capability,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        finally:
            await workflow.execute_activity(
                "stop_container",
                StopContainerInput(container_id=started.container_id),
                task_queue=gpu,
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=GPU_RETRY,
            )
        self._status.state = ContainerState.STOPPED
        return self._status

    @workflow.signal
    def stop(self) -> None:
        self._stop_requested = True

    @workflow.query
    def status(self) -> ContainerStatus:
        return self._status
