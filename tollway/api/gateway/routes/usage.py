"""Usage: `GET /v1/usage`, the tenant's finished jobs summed by day, key and capability (jobs,
billed units, cost in wei and in USD at the gateway's rate), as JSON or CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from tollway.api.gateway.deps import Services, UsageReader
from tollway.api.openapi import problems
from tollway.errors import BadRequest
from tollway.schemas.jobs import UsageRow
from tollway.store.database import utc_now
from tollway.store.jobs import UsageGroup

__all__ = ["router", "usage"]

router = APIRouter(prefix="/v1/usage", tags=["usage"])

DEFAULT_SPAN = timedelta(days=30)
CSV_COLUMNS = ("day", "key_id", "capability", "jobs", "units", "cost_wei", "cost_usd")


@router.get(
    "",
    response_model=list[UsageRow],
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON rows, or CSV"},
        **problems(BadRequest),
    },
)
async def usage(
    services: Services,
    caller: UsageReader,
    start: Annotated[datetime | None, Query(description="From (default: 30 days ago).")] = None,
    end: Annotated[datetime | None, Query(description="Until, excluded (default: now).")] = None,
    group_by: Annotated[
        list[UsageGroup] | None, Query(description="Repeat: day, key, capability.")
    ] = None,
    key_id: str | None = None,
    format: Annotated[str | None, Query(pattern="^(json|csv)$")] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    """Jobs that ended in [start, end), summed by the groups asked for (default: by day)."""
    for name, moment in (("start", start), ("end", end)):
        if moment is not None and moment.tzinfo is None:
            raise BadRequest(f"{name} needs a time zone (e.g. 2026-12-01T00:00:00Z)", field=name)
    until = end or utc_now()
    try:
        since = start or until - DEFAULT_SPAN
    except OverflowError:  # an `end` in the first days of year 1: from the earliest time
        since = datetime.min.replace(tzinfo=UTC)
    if since >= until:
        raise BadRequest("start must come before end", field="start")
    rows = await services.jobs.usage(
        caller.tenant,
        since,
        until,
        sorted(set(group_by or ["day"])),
        key_id,
        services.settings.usd_per_eth,
    )
    if format == "csv" or (format is None and "text/csv" in (accept or "")):
        return Response(_csv(rows), media_type="text/csv")
    return rows


def _csv(rows: list[UsageRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        units = " ".join(f"{unit}={count}" for unit, count in sorted(row.units.items()))
        writer.writerow(
            [
                row.day.isoformat() if row.day else "",
                row.key_id or "",
                row.capability or "",
                row.jobs,
                units,
                row.cost_wei,
                "" if row.cost_usd is None else row.cost_usd,
            ]
        )
    return out.getvalue()
