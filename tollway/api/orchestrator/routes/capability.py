"""Capability registration by BYOC workers.

`/capability/load` answers one replica's in-flight count and idle time.
`/capability/unregister` takes go-livepeer's body, the bare name (every replica goes), or
tollway's `{"name": ..., "replica": ...}` (that replica goes). `/capability/drain` unregisters
one replica and answers how many requests it still has in flight; a ContainerWorkflow repeats
it until that is 0, then stops the container.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from tollway.api.body import parse_json_body, read_body
from tollway.api.openapi import hand_read, json_body, problems, text_body
from tollway.api.orchestrator.deps import SecretChecked, Services
from tollway.api.orchestrator.services import OrchestratorServices
from tollway.byoc.gpus import WorkerListing, WorkerReport
from tollway.byoc.spec import ReplicaRef
from tollway.errors import BadRequest, BodyIncomplete, BodyTooLarge, NoGpuWorker, RequestTimeout
from tollway.protocol.capability import ExternalCapability

__all__ = [
    "drain",
    "load",
    "register",
    "replicas",
    "report_worker",
    "router",
    "unregister",
    "workers",
]

router = APIRouter(dependencies=[SecretChecked])

REGISTRATION_LIMIT = 64 * 1024
_BODY_ERRORS = problems(BadRequest, BodyIncomplete, BodyTooLarge, RequestTimeout)


async def _small_body(request: Request, services: OrchestratorServices) -> bytes:
    return await read_body(request, REGISTRATION_LIMIT, services.settings.body_read_timeout_seconds)


@router.post(
    "/capability/register",
    response_class=PlainTextResponse,
    responses=problems(BadRequest, BodyIncomplete, BodyTooLarge, RequestTimeout, NoGpuWorker),
    openapi_extra=hand_read(json_body(ExternalCapability)),
)
async def register(request: Request, services: Services) -> str:
    body = await _small_body(request, services)
    capability = parse_json_body(ExternalCapability, body)
    capability.price_wei(services.settings.pricing.usd_per_eth)  # a USD price needs a rate
    if capability.url:
        roster = services.workers
        services.destinations.check(capability.url, roster.destinations(), roster.settled())
    services.registry.register(capability)
    return "ok"


@router.post(
    "/capability/unregister",
    response_class=PlainTextResponse,
    responses=_BODY_ERRORS,
    openapi_extra=hand_read(
        [
            json_body(ReplicaRef, "tollway's: that replica of the capability goes."),
            text_body("go-livepeer's: the capability's name; every replica of it goes."),
        ]
    ),
)
async def unregister(request: Request, services: Services) -> str:
    body = await _small_body(request, services)
    if body.lstrip().startswith(b"{"):
        ref = parse_json_body(ReplicaRef, body)
        services.registry.unregister_replica(ref.name, ref.replica)
        return "ok"
    name = body.decode(errors="replace").strip()
    if not name:
        raise BadRequest("body must be the capability name", field="name")
    services.registry.unregister(name)
    return "ok"


@router.post(
    "/capability/load", responses=_BODY_ERRORS, openapi_extra=hand_read(json_body(ReplicaRef))
)
async def load(request: Request, services: Services) -> dict[str, float]:
    """One replica's requests in flight and seconds idle (a cold-swap replica parks on it)."""
    ref = parse_json_body(
        ReplicaRef,
        await _small_body(request, services),
    )
    registry = services.registry
    return {
        "in_flight": registry.in_flight(ref.name, ref.replica),
        "idle_seconds": registry.idle_seconds(ref.name, ref.replica),
    }


@router.post(
    "/capability/drain", responses=_BODY_ERRORS, openapi_extra=hand_read(json_body(ReplicaRef))
)
async def drain(request: Request, services: Services) -> dict[str, int]:
    ref = parse_json_body(
        ReplicaRef,
        await _small_body(request, services),
    )
    return {"in_flight": services.registry.unregister_replica(ref.name, ref.replica)}


@router.post(
    "/v1/workers", responses=_BODY_ERRORS, openapi_extra=hand_read(json_body(WorkerReport))
)
async def report_worker(request: Request, services: Services) -> dict[str, str]:
    """A GPU worker reports itself: its task queue and its GPUs (see tollway.byoc.gpus)."""
    report = parse_json_body(
        WorkerReport,
        await _small_body(request, services),
    )
    services.workers.report(report, request.client.host if request.client else None)
    return {"status": "ok"}


@router.get("/v1/workers")
async def workers(services: Services) -> WorkerListing:
    """The GPU workers that report, for placement (secret-protected: task queues inside); one
    that stopped reporting is left out, so the fleet places its replicas elsewhere."""
    return WorkerListing(workers=services.workers.live(), settled=services.workers.settled())


@router.get("/v1/replicas")
async def replicas(services: Services) -> dict[str, dict[str, list[dict[str, object]]]]:
    """Every registered replica with its address and load (secret-protected: addresses)."""
    registry = services.registry
    return {
        "replicas": {
            name: [
                {
                    "replica": r.replica,
                    "url": r.url,
                    "capacity": r.capacity,
                    "in_flight": registry.in_flight(name, r.replica),
                    "idle_seconds": round(registry.idle_seconds(name, r.replica), 3),
                }
                for r in registry.replicas(name)
            ]
            for name in registry.names()
        }
    }
