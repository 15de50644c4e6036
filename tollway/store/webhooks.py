"""Webhooks in the gateway database: endpoints, their deliveries and each delivery's attempts.

An endpoint belongs to a tenant (every job of the tenant's, and its budget alerts) or to one job
(given with the job), with an event filter (empty: every event). An event is written to the
outbox, one delivery per endpoint it matches, in the same transaction as the change it reports
(the job's end, its budget's settlement), so no event is lost to a crash between the two. The
gateway worker starts a delivery workflow for each new delivery (`undispatched`), which sends
it on a retry schedule and records every attempt here: the delivery log a tenant reads and
replays from.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tollway.errors import BadRequest, NotFound
from tollway.schemas.webhooks import (
    EVENT_TYPES,
    DeliveryPage,
    DeliveryState,
    EventType,
    NewWebhook,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)
from tollway.store.cursors import decode_cursor, encode_cursor
from tollway.store.database import Database, utc_now
from tollway.store.schema import jobs, tenants, webhook_attempts, webhook_deliveries, webhooks

__all__ = [
    "WebhookStore",
    "enqueue_event",
    "webhooks_wanting",
    "write_deliveries",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)


class WebhookStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(
        self,
        tenant: str,
        url: str,
        event_types: list[EventType],
        description: str | None = None,
    ) -> NewWebhook:
        """A tenant's webhook (every job's events that pass its filter), with its own secret."""
        webhook = NewWebhook(
            id="wh_" + secrets.token_hex(8),
            tenant=tenant,
            url=url,
            event_types=_known(event_types),
            description=description,
            created_at=utc_now(),
            secret=_new_secret(),
        )
        async with self._db.sessions.begin() as session:
            await session.execute(insert(webhooks).values(**webhook.model_dump()))
        return webhook

    async def add_for_job(
        self, tenant: str, job_id: str, url: str, event_types: list[EventType]
    ) -> Webhook:
        """The webhook given with a job, signed with its tenant's secret (`tenant_secret`).
        Its id follows from the job's, so a replayed submission adds no second one."""
        webhook = Webhook(
            id="wh_" + hashlib.sha256(f"{tenant}\0{job_id}".encode()).hexdigest()[:16],
            tenant=tenant,
            url=url,
            event_types=_known(event_types),
            job_id=job_id,
            created_at=utc_now(),
        )
        secret = await self.tenant_secret(tenant)
        try:
            async with self._db.sessions.begin() as session:
                await session.execute(
                    insert(webhooks).values(**webhook.model_dump(), secret=secret)
                )
        except IntegrityError:
            pass  # the same job submitted again
        return webhook

    async def tenant_secret(self, tenant: str) -> str:
        """The secret that signs the webhooks given with the tenant's jobs; made when first
        asked for."""
        async with self._db.sessions.begin() as session:
            await session.execute(
                update(tenants)
                .where(tenants.c.name == tenant, tenants.c.webhook_secret.is_(None))
                .values(webhook_secret=_new_secret())
            )
            secret = (
                await session.execute(
                    select(tenants.c.webhook_secret).where(tenants.c.name == tenant)
                )
            ).scalar_one_or_none()
        if secret is None:
            raise NotFound(f"no tenant {tenant!r}", tenant=tenant)
        return str(secret)

    async def get(self, tenant: str, webhook_id: str) -> Webhook:
        async with self._db.sessions() as session:
            row = (
                (
                    await session.execute(
                        select(webhooks).where(
                            webhooks.c.id == webhook_id,
                            webhooks.c.tenant == tenant,
                            webhooks.c.deleted_at.is_(None),
                        )
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"no webhook {webhook_id!r}", webhook_id=webhook_id)
        return Webhook.model_validate(dict(row))

    async def list_webhooks(self, tenant: str) -> list[Webhook]:
        """The tenant's own webhooks (not those given with a job)."""
        query = (
            select(webhooks)
            .where(
                webhooks.c.tenant == tenant,
                webhooks.c.job_id.is_(None),
                webhooks.c.deleted_at.is_(None),
            )
            .order_by(webhooks.c.created_at)
        )
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        return [Webhook.model_validate(dict(row)) for row in rows]

    async def delete(self, tenant: str, webhook_id: str) -> None:
        """No more events go to it; deliveries under way stop at their next attempt."""
        async with self._db.sessions.begin() as session:
            gone = await session.execute(
                update(webhooks)
                .where(
                    webhooks.c.id == webhook_id,
                    webhooks.c.tenant == tenant,
                    webhooks.c.deleted_at.is_(None),
                )
                .values(deleted_at=utc_now())
            )
        if cast(CursorResult[Any], gone).rowcount == 0:
            raise NotFound(f"no webhook {webhook_id!r}", webhook_id=webhook_id)

    # The deliveries: the outbox and its log.

    async def undispatched(self, limit: int = 100) -> list[str]:
        """Deliveries no workflow was started for yet, oldest first."""
        query = (
            select(webhook_deliveries.c.id)
            .where(webhook_deliveries.c.dispatched_at.is_(None))
            .order_by(webhook_deliveries.c.created_at)
            .limit(limit)
        )
        async with self._db.sessions() as session:
            return list((await session.execute(query)).scalars().all())

    async def mark_dispatched(self, delivery_id: str) -> None:
        async with self._db.sessions.begin() as session:
            await session.execute(
                update(webhook_deliveries)
                .where(webhook_deliveries.c.id == delivery_id)
                .values(dispatched_at=utc_now())
            )

    async def to_send(self, delivery_id: str) -> tuple[WebhookDelivery, str, str] | None:
        """The delivery, its webhook's URL and secret; None when the webhook was deleted."""
        query = (
            select(webhook_deliveries, webhooks.c.url, webhooks.c.secret)
            .join(webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id)
            .where(webhook_deliveries.c.id == delivery_id, webhooks.c.deleted_at.is_(None))
        )
        async with self._db.sessions() as session:
            row = (await session.execute(query)).mappings().first()
        if row is None:
            return None
        return _delivery(row), str(row["url"]), str(row["secret"])

    async def record_attempt(
        self,
        delivery_id: str,
        *,
        delivered: bool,
        status: int | None,
        error: str | None,
        duration_ms: int,
        final: bool,
    ) -> None:
        """Log one attempt and what it leaves the delivery in (`failed` after a `final` one)."""
        now = utc_now()
        state: DeliveryState = "delivered" if delivered else ("failed" if final else "retrying")
        values: dict[str, Any] = {
            "attempts": webhook_deliveries.c.attempts + 1,
            "state": state,
            "last_attempt_at": now,
            "last_status": status,
            "last_error": error,
        }
        if delivered:
            values["delivered_at"] = now
        async with self._db.sessions.begin() as session:
            await session.execute(
                update(webhook_deliveries)
                .where(webhook_deliveries.c.id == delivery_id)
                .values(**values)
            )
            number = (
                await session.execute(
                    select(webhook_deliveries.c.attempts).where(
                        webhook_deliveries.c.id == delivery_id
                    )
                )
            ).scalar_one()
            await session.execute(
                insert(webhook_attempts).values(
                    delivery_id=delivery_id,
                    number=number,
                    at=now,
                    status=status,
                    error=error,
                    duration_ms=duration_ms,
                )
            )

    async def prune(self, before: datetime, batch: int = 500) -> int:
        """Remove the finished deliveries (delivered, or failed for good) last touched before
        `before`, with their attempts; how many. One still retrying, pending or being replayed
        stays, however old."""
        touched = func.coalesce(
            webhook_deliveries.c.last_attempt_at, webhook_deliveries.c.created_at
        )
        removed = 0
        while True:
            async with self._db.sessions.begin() as session:
                ids = (
                    await session.scalars(
                        select(webhook_deliveries.c.id)
                        .where(webhook_deliveries.c.state.in_(("delivered", "failed")))
                        .where(touched < before)
                        .limit(batch)
                    )
                ).all()
                if not ids:
                    return removed
                await session.execute(
                    delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(ids))
                )
                await session.execute(
                    delete(webhook_deliveries).where(webhook_deliveries.c.id.in_(ids))
                )
            removed += len(ids)

    async def mark_abandoned(self, delivery_id: str, why: str) -> None:
        async with self._db.sessions.begin() as session:
            await session.execute(
                update(webhook_deliveries)
                .where(webhook_deliveries.c.id == delivery_id)
                .values(state="failed", last_error=why)
            )

    async def delivery(self, tenant: str, delivery_id: str) -> WebhookDelivery:
        """One of the tenant's deliveries with every attempt."""
        async with self._db.sessions() as session:
            row = (
                (
                    await session.execute(
                        select(webhook_deliveries).where(
                            webhook_deliveries.c.id == delivery_id,
                            webhook_deliveries.c.tenant == tenant,
                        )
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                raise NotFound(f"no webhook delivery {delivery_id!r}", delivery_id=delivery_id)
            attempts = (
                (
                    await session.execute(
                        select(webhook_attempts)
                        .where(webhook_attempts.c.delivery_id == delivery_id)
                        .order_by(webhook_attempts.c.number)
                    )
                )
                .mappings()
                .all()
            )
        found = _delivery(row)
        found.attempt_log = [WebhookAttempt.model_validate(dict(a)) for a in attempts]
        return found

    async def page(
        self,
        tenant: str,
        *,
        webhook_id: str | None = None,
        job_id: str | None = None,
        states: list[DeliveryState] | None = None,
        event_type: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> DeliveryPage:
        """The tenant's deliveries, newest first, filtered, `limit` at a time from `cursor`."""
        table = webhook_deliveries
        query = select(table).where(table.c.tenant == tenant)
        if webhook_id is not None:
            query = query.where(table.c.webhook_id == webhook_id)
        if job_id is not None:
            query = query.where(table.c.job_id == job_id)
        if states:
            query = query.where(table.c.state.in_(states))
        if event_type is not None:
            query = query.where(table.c.event_type == event_type)
        if cursor is not None:
            at, last_id = decode_cursor(cursor)
            query = query.where(
                or_(table.c.created_at < at, and_(table.c.created_at == at, table.c.id < last_id))
            )
        query = query.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit + 1)
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        found = [_delivery(row) for row in rows[:limit]]
        more = len(rows) > limit
        return DeliveryPage(
            data=found,
            next_cursor=encode_cursor(found[-1].created_at, found[-1].id)
            if more and found
            else None,
            has_more=more,
        )

    async def begin_replay(self, tenant: str, delivery_id: str) -> int:
        """Count a replay of the delivery and put it back to `pending`: the replay's number
        (its workflow's id), or NotFound."""
        async with self._db.sessions.begin() as session:
            changed = await session.execute(
                update(webhook_deliveries)
                .where(
                    webhook_deliveries.c.id == delivery_id,
                    webhook_deliveries.c.tenant == tenant,
                )
                .values(replays=webhook_deliveries.c.replays + 1, state="pending")
            )
            if cast(CursorResult[Any], changed).rowcount == 0:
                raise NotFound(f"no webhook delivery {delivery_id!r}", delivery_id=delivery_id)
            replays = (
                await session.execute(
                    select(webhook_deliveries.c.replays).where(
                        webhook_deliveries.c.id == delivery_id
                    )
                )
            ).scalar_one()
        return int(replays)


async def enqueue_event(
    session: AsyncSession,
    tenant: str,
    job_id: str | None,
    event_type: EventType,
    data: dict[str, Any],
) -> int:
    """Write one delivery per webhook of the tenant's (and of the job's) that wants the event,
    in the caller's transaction; how many."""
    wanted = await webhooks_wanting(session, event_type, tenant=tenant, job_id=job_id)
    await write_deliveries(session, wanted, tenant, job_id, event_type, data)
    return len(wanted)


async def webhooks_wanting(
    session: AsyncSession, event_type: str, *, tenant: str | None, job_id: str | None
) -> list[str]:
    """The ids of the live webhooks the event goes to: the tenant's own (the job's tenant's
    when `tenant` is None), and the job's."""
    owner: Any = tenant
    if owner is None:
        owner = select(jobs.c.tenant).where(jobs.c.id == job_id).scalar_subquery()
    query = select(webhooks.c.id, webhooks.c.event_types).where(
        webhooks.c.tenant == owner, webhooks.c.deleted_at.is_(None)
    )
    if job_id is None:
        query = query.where(webhooks.c.job_id.is_(None))
    else:
        query = query.where(or_(webhooks.c.job_id.is_(None), webhooks.c.job_id == job_id))
    return [
        row.id
        for row in (await session.execute(query)).all()
        if not row.event_types or event_type in row.event_types
    ]


async def write_deliveries(
    session: AsyncSession,
    webhook_ids: list[str],
    tenant: str,
    job_id: str | None,
    event_type: str,
    data: dict[str, Any],
) -> None:
    """One delivery of the event per webhook, each its own message id, one payload:
    `{"type", "timestamp", "data"}` as Standard Webhooks lays it out."""
    if not webhook_ids:
        return
    now = utc_now()
    payload = {"type": event_type, "timestamp": now.isoformat(), "data": data}
    await session.execute(
        insert(webhook_deliveries),
        [
            {
                "id": "msg_" + secrets.token_hex(16),
                "webhook_id": webhook_id,
                "tenant": tenant,
                "job_id": job_id,
                "event_type": event_type,
                "payload": payload,
                "state": "pending",
                "attempts": 0,
                "replays": 0,
                "created_at": now,
            }
            for webhook_id in webhook_ids
        ],
    )


def _known(event_types: list[EventType]) -> list[EventType]:
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise BadRequest(
            f"unknown webhook event types {unknown}; known: {list(EVENT_TYPES)}",
            field="event_types",
        )
    return list(dict.fromkeys(event_types))


def _new_secret() -> str:
    """A signing secret in the Standard Webhooks form: `whsec_` and 32 random bytes, base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _delivery(row: Any) -> WebhookDelivery:
    return WebhookDelivery.model_validate(
        {k: row[k] for k in WebhookDelivery.model_fields if k in row and k != "attempt_log"}
    )
