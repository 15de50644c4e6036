"""From a declaration file to the replicas that serve it: one ServeCapabilityInput each.

Pure functions, called inside FleetWorkflow. A replica's workflow id carries a digest of what
it serves (its declaration and placement), so a changed declaration yields new ids: the fleet
starts the new replicas and drains the old.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, Field

from tollway.byoc.declaration import CapabilityDeclaration
from tollway.byoc.placement import Placement
from tollway.byoc.replica import ServeCapabilityInput
from tollway.byoc.spec import (
    TRICKLE_PORT,
    BuildImageInput,
    ContainerSpec,
    TritonModelSpec,
    triton_ready_path,
)

__all__ = ["FleetInput", "image_of", "replica_inputs"]

FLEET_LABEL = "tollway.fleet"


class FleetInput(BaseModel):
    fleet_id: str
    capabilities: list[CapabilityDeclaration]
    labels: dict[str, str] = {}
    """Put on every container (`tollway down` finds a stack's containers by its label)."""
    health_check_seconds: float = 5.0
    revision: str = ""
    """Names this application of a file, so whoever applied it sees when it took effect."""
    recheck_seconds: float = Field(default=30.0, gt=0)
    """How often the fleet looks for GPU workers lost, to place their replicas again."""


def image_of(declaration: CapabilityDeclaration) -> str:
    """The image a container capability runs (built under this tag when it declares `build`)."""
    return declaration.image or f"tollway/{declaration.name.lower()}:latest"


def replica_inputs(
    fleet: FleetInput, placements: list[Placement]
) -> dict[str, ServeCapabilityInput]:
    """Every replica's ContainerWorkflow input, by workflow id."""
    declared = {d.name: d for d in fleet.capabilities}
    replicas: dict[str, ServeCapabilityInput] = {}
    for placement in placements:
        declaration = declared[placement.capability]
        digest = hashlib.sha256(
            (declaration.model_dump_json() + placement.model_dump_json()).encode()
        ).hexdigest()[:8]
        workflow_id = f"{fleet.fleet_id}-{declaration.name}-{placement.index}-{digest}"
        image, health_path, triton = image_of(declaration), declaration.health_path, None
        if declaration.triton:
            image, health_path = "", triton_ready_path(declaration.name)
            triton = TritonModelSpec(
                model_file=declaration.triton.model,
                max_batch_size=declaration.triton.max_batch_size,
            )
        replicas[workflow_id] = ServeCapabilityInput(
            spec=ContainerSpec(
                capability=declaration.name,
                image=image,
                triton=triton,
                container_port=declaration.port,
                health_path=health_path,
                env=declaration.env,
                labels={**fleet.labels, FLEET_LABEL: fleet.fleet_id},
                memory_mb=declaration.resources.memory_mb,
                cpus=declaration.resources.cpus,
                pids_limit=declaration.resources.pids,
                network="bridge" if declaration.network == "egress" else "none",
                gpu_device_ids=placement.gpu_device_ids,
                trickle_port=TRICKLE_PORT if declaration.streams else None,
            ),
            build=(
                BuildImageInput(context_dir=declaration.build, tag=image)
                if declaration.build
                else None
            ),
            gpu_task_queue=placement.task_queue,
            capacity=declaration.capacity,
            price=declaration.price,
            description=declaration.description,
            replica=workflow_id,
            health_check_seconds=fleet.health_check_seconds,
            idle_timeout_seconds=declaration.idle_timeout_seconds,
        )
    return replicas
