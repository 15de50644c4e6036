"""A job's events: `GET /v1/jobs/{id}/events`, a JSON page (`?after=N`), or server-sent events
with `Accept: text/event-stream`: each event's `id` is its number, so a client that reconnects
with `Last-Event-ID` gets what it missed and nothing twice; a ping every 15 s keeps proxies
from closing a quiet stream, and `event: done` ends it once the job has ended."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse

from tollway.api.gateway.deps import JobReader, Services
from tollway.api.gateway.routes.jobs import LONGEST_JOB_SECONDS, owned
from tollway.api.openapi import problems
from tollway.errors import BadRequest, NotFound
from tollway.schemas.jobs import JobEvent
from tollway.store.jobs import JobIndex

__all__ = ["job_events", "router"]

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

POLL_SECONDS = 0.25
PING_SECONDS = 15
LAST_SEQ = 2**31 - 1
"""Event numbers are a database INTEGER: a number past it names no event (and PostgreSQL
refuses to compare with it)."""


@router.get(
    "/{job_id}/events",
    response_model=list[JobEvent],
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE"},
        **problems(BadRequest, NotFound),
    },
)
async def job_events(
    job_id: str,
    services: Services,
    caller: JobReader,
    after: Annotated[
        int, Query(ge=0, le=LAST_SEQ, description="Events numbered after this one.")
    ] = 0,
    accept: Annotated[str | None, Header()] = None,
    last_event_id: Annotated[
        str | None, Header(description="SSE: resume after this event's number.")
    ] = None,
) -> Any:
    owned(job_id, caller.tenant)
    if await services.jobs.get(job_id) is None:
        raise NotFound(f"no job {job_id!r}")
    if "text/event-stream" not in (accept or ""):
        return await services.jobs.events(job_id, after)
    if last_event_id is not None:
        seq = last_event_id.strip()
        if not (seq.isascii() and seq.isdigit()) or int(seq) > LAST_SEQ:
            raise BadRequest("Last-Event-ID is an event's number", field="Last-Event-ID")
        after = int(seq)
    return EventSourceResponse(_stream(services.jobs, job_id, after), ping=PING_SECONDS)


async def _stream(index: JobIndex, job_id: str, after: int) -> AsyncIterator[dict[str, str]]:
    deadline = time.monotonic() + LONGEST_JOB_SECONDS + 60
    while time.monotonic() < deadline:
        for event in await index.events(job_id, after):
            after = event.seq
            yield {"id": str(event.seq), "event": event.type, "data": event.model_dump_json()}
            if event.final:
                yield {"event": "done", "data": "{}"}
                return
        await asyncio.sleep(POLL_SECONDS)
