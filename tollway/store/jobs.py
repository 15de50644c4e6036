"""The job index: one row per job, written when the gateway accepts it and when it ends, so a
tenant lists and filters its jobs, reads its usage, and keeps a job's record after its output
expires or is deleted (Temporal forgets a closed workflow after its namespace's retention).

Listing pages by keyset on (created_at, id), newest first: the cursor is the last row's pair,
so a page is as cheap deep in the list as at its head and a job made meanwhile moves nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import JSON, CursorResult, String, and_, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tollway.schemas.jobs import JobEvent, JobPage, JobRecord, UsageRow
from tollway.store.cursors import decode_cursor, encode_cursor
from tollway.store.database import Database, utc_now
from tollway.store.schema import UtcDateTime, job_events, jobs
from tollway.store.webhooks import webhooks_wanting, write_deliveries

__all__ = ["JobIndex", "UsageGroup"]

UsageGroup = Literal["day", "key", "capability"]


class JobIndex:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(
        self, job_id: str, tenant: str, key_id: str | None, capability: str, input_artifact: str
    ) -> None:
        """Record an accepted job (once: a replayed submission keeps the first record)."""
        try:
            async with self._db.sessions.begin() as session:
                await session.execute(
                    insert(jobs).values(
                        id=job_id,
                        tenant=tenant,
                        key_id=key_id,
                        capability=capability,
                        state="running",
                        created_at=utc_now(),
                        input_artifact=input_artifact,
                    )
                )
                await _add_event(session, job_id, "job.queued", {"capability": capability})
        except IntegrityError:
            pass

    async def finish(
        self,
        job_id: str,
        state: str,
        retention: timedelta,
        *,
        orchestrator: str | None = None,
        unit: str | None = None,
        units: int | None = None,
        cost_wei: int | None = None,
        error: str | None = None,
        output_artifact: str | None = None,
    ) -> None:
        """Record how the job ended; its data expires `retention` later. Idempotent."""
        now = utc_now()
        values: dict[str, Any] = {
            "state": state,
            "completed_at": now,
            "orchestrator": orchestrator,
            "unit": unit,
            "units": units,
            "cost_wei": str(cost_wei) if cost_wei is not None else None,
            "error": (error or "")[:2000] or None,
            "output_artifact": output_artifact,
            "expires_at": now + retention,
        }
        async with self._db.sessions.begin() as session:
            unfinished = (jobs.c.id == job_id, jobs.c.completed_at.is_(None))
            ended = await session.execute(update(jobs).where(*unfinished).values(**values))
            if cast(CursorResult[Any], ended).rowcount:
                data = {
                    "state": state,
                    "orchestrator": orchestrator,
                    "cost_wei": str(cost_wei) if cost_wei is not None else None,
                    "error": error,
                }
                await _add_event(session, job_id, f"job.{state}", data)

    async def add_event(self, job_id: str, kind: str, data: dict[str, Any]) -> None:
        """Record an event of the job's (numbered after its others)."""
        for _ in range(3):
            try:
                async with self._db.sessions.begin() as session:
                    await _add_event(session, job_id, kind, data)
                return
            except IntegrityError:
                continue  # another writer took the number: take the next

    async def events(self, job_id: str, after: int = 0, limit: int = 100) -> list[JobEvent]:
        """The job's events numbered after `after`, oldest first."""
        query = (
            select(job_events)
            .where(job_events.c.job_id == job_id, job_events.c.seq > after)
            .order_by(job_events.c.seq)
            .limit(limit)
        )
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        return [JobEvent.model_validate(dict(row)) for row in rows]

    async def running(self, key_id: str) -> int:
        """How many of the key's jobs are running."""
        query = select(func.count()).where(jobs.c.key_id == key_id, jobs.c.state == "running")
        async with self._db.sessions() as session:
            return int((await session.execute(query)).scalar_one())

    async def get(self, job_id: str) -> JobRecord | None:
        async with self._db.sessions() as session:
            row = (
                (await session.execute(select(jobs).where(jobs.c.id == job_id))).mappings().first()
            )
        return _record(row) if row is not None else None

    async def artifacts(self, job_id: str) -> list[str]:
        async with self._db.sessions() as session:
            row = (
                await session.execute(
                    select(jobs.c.input_artifact, jobs.c.output_artifact).where(jobs.c.id == job_id)
                )
            ).first()
        return [a for a in (row or ()) if a]

    async def page(
        self,
        tenant: str,
        *,
        states: list[str] | None = None,
        capability: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage:
        """The tenant's jobs, newest first, filtered, `limit` at a time from `cursor`."""
        query = select(jobs).where(jobs.c.tenant == tenant)
        if states:
            query = query.where(jobs.c.state.in_(states))
        if capability is not None:
            query = query.where(jobs.c.capability == capability)
        if created_after is not None:
            query = query.where(jobs.c.created_at >= created_after)
        if created_before is not None:
            query = query.where(jobs.c.created_at < created_before)
        if cursor is not None:
            at, last_id = decode_cursor(cursor)
            query = query.where(
                or_(jobs.c.created_at < at, and_(jobs.c.created_at == at, jobs.c.id < last_id))
            )
        query = query.order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit + 1)
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        records = [_record(row) for row in rows[:limit]]
        more = len(rows) > limit
        next_cursor = (
            encode_cursor(records[-1].created_at, records[-1].id) if more and records else None
        )
        return JobPage(data=records, next_cursor=next_cursor, has_more=more)

    async def expired(self, now: datetime, limit: int = 500) -> list[tuple[str, list[str]]]:
        """Jobs whose data expired and is still kept: (job id, its artifacts)."""
        query = (
            select(jobs.c.id, jobs.c.input_artifact, jobs.c.output_artifact)
            .where(jobs.c.expires_at <= now, jobs.c.data_removed_at.is_(None))
            .limit(limit)
        )
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            (row.id, [a for a in (row.input_artifact, row.output_artifact) if a]) for row in rows
        ]

    async def mark_removed(self, job_id: str) -> None:
        async with self._db.sessions.begin() as session:
            now = utc_now()
            await session.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.data_removed_at.is_(None))
                .values(data_removed_at=now, expires_at=now)
            )

    async def usage(
        self,
        tenant: str,
        start: datetime,
        end: datetime,
        group_by: list[UsageGroup],
        key_id: str | None = None,
        usd_per_eth: float | None = None,
    ) -> list[UsageRow]:
        """Finished jobs that ended in [start, end), summed by the chosen groups."""
        query = select(
            jobs.c.completed_at, jobs.c.key_id, jobs.c.capability, jobs.c.unit, jobs.c.units,
            jobs.c.cost_wei,
        ).where(
            jobs.c.tenant == tenant,
            jobs.c.completed_at >= start,
            jobs.c.completed_at < end,
        )  # fmt: skip
        if key_id is not None:
            query = query.where(jobs.c.key_id == key_id)
        totals: dict[tuple[Any, ...], UsageRow] = {}
        units: dict[tuple[Any, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        async with self._db.sessions() as session:
            for row in (await session.execute(query)).all():
                fields = {
                    "day": row.completed_at.date() if "day" in group_by else None,
                    "key_id": row.key_id if "key" in group_by else None,
                    "capability": row.capability if "capability" in group_by else None,
                }
                group = tuple(fields.values())
                total = totals.setdefault(group, UsageRow(**fields, jobs=0, units={}, cost_wei=0))
                total.jobs += 1
                total.cost_wei += int(row.cost_wei or 0)
                if row.unit and row.units:
                    units[group][row.unit] += row.units
        for group, total in totals.items():
            total.units = dict(units[group])
            if usd_per_eth:
                total.cost_usd = round(total.cost_wei / 10**18 * usd_per_eth, 6)
        return sorted(
            totals.values(),
            key=lambda r: (r.day or date.min, r.key_id or "", r.capability or ""),
        )


async def _add_event(session: AsyncSession, job_id: str, kind: str, data: dict[str, Any]) -> None:
    """Insert the event numbered after the job's last, in one statement, and its webhook
    deliveries (the job's record with the event's data) in the same transaction."""
    await session.execute(
        insert(job_events).from_select(
            ["job_id", "seq", "type", "data", "created_at"],
            select(
                literal(job_id, String()),
                func.coalesce(func.max(job_events.c.seq), 0) + 1,
                literal(kind, String()),
                literal(data, JSON()),
                literal(utc_now(), UtcDateTime()),
            ).where(job_events.c.job_id == job_id),
        )
    )
    wanted = await webhooks_wanting(session, kind, tenant=None, job_id=job_id)
    if wanted:
        row = (await session.execute(select(jobs).where(jobs.c.id == job_id))).mappings().one()
        record = _record(row).model_dump(mode="json")
        known = {k: v for k, v in record.items() if v is not None}
        await write_deliveries(session, wanted, row["tenant"], job_id, kind, {**data, **known})


def _record(row: Any) -> JobRecord:
    return JobRecord(
        **{k: row[k] for k in JobRecord.model_fields if k in row and k not in ("cost_wei",)},
        cost_wei=int(row["cost_wei"]) if row["cost_wei"] is not None else None,
        data_removed=row["data_removed_at"] is not None,
    )
