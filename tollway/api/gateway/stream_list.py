"""A tenant's recent streams, found by Temporal's visibility (the search attributes every
StreamWorkflow carries), newest first: the operator console lists them beside the jobs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from tollway.api.gateway.services import GatewayServices
from tollway.store.tenants import TENANT_NAME
from tollway.temporal import CAPABILITY, ORCHESTRATOR, STATE, TENANT
from tollway.workflows.stream import StreamWorkflow

__all__ = ["StreamList", "StreamSummary", "recent_streams"]

_WORKFLOW_PREFIX = "stream."
"""A stream's workflow id is `stream.<stream id>` (tollway.api.gateway.streams)."""


class StreamSummary(BaseModel):
    stream_id: str
    workflow_id: str
    capability: str | None = None
    state: str | None = None
    """starting, running, swapping, stopped or failed (as the workflow last set it)."""
    orchestrator: str | None = None
    started_at: datetime | None = None
    closed_at: datetime | None = None


class StreamList(BaseModel):
    data: list[StreamSummary]


async def recent_streams(services: GatewayServices, tenant: str, limit: int) -> StreamList:
    """The tenant's `limit` most recent streams. Visibility lags a workflow by a moment, and a
    stream that swapped orchestrators has several runs: only its newest is listed."""
    if not TENANT_NAME.match(tenant):  # never so: quoting a tenant's name needs no escapes
        return StreamList(data=[])
    query = f"WorkflowType = '{StreamWorkflow.__name__}' AND {TENANT.name} = '{tenant}'"
    found: dict[str, StreamSummary] = {}
    async for execution in services.temporal.list_workflows(query, limit=limit * 4):
        if execution.id in found or not execution.id.startswith(_WORKFLOW_PREFIX):
            continue
        attributes = execution.typed_search_attributes
        found[execution.id] = StreamSummary(
            stream_id=execution.id.removeprefix(_WORKFLOW_PREFIX),
            workflow_id=execution.id,
            capability=attributes.get(CAPABILITY),
            state=attributes.get(STATE),
            orchestrator=attributes.get(ORCHESTRATOR),
            started_at=execution.start_time,
            closed_at=execution.close_time,
        )
    newest = sorted(
        found.values(), key=lambda s: s.started_at.timestamp() if s.started_at else 0.0
    )[::-1]
    return StreamList(data=newest[:limit])
