"""Budgets: spend limits per tenant or per key, in wei or in USD, per day, month or in total.

A job reserves its worst-case cost against every budget that applies (its tenant's and its
key's) when it is accepted, and settles its real cost when it ends, so concurrent jobs never
spend past a limit: each reservation runs in a transaction that first locks the budgets it
touches (an UPDATE of their rows, which on SQLite also takes the database's write lock), then
reads what their windows have spent and held. A window's `spent_wei` counts settled costs and
the holds of jobs still running. A hold belongs to the window it was made in, so a job settled
after midnight settles against the day it was accepted on.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Literal, cast

from pydantic import BaseModel
from sqlalchemy import ColumnElement, CursorResult, Result, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tollway.errors import BadRequest, BudgetExceeded, NotFound
from tollway.schemas.webhooks import BudgetAlert
from tollway.store.database import Database, utc_now
from tollway.store.schema import budget_alerts, budget_holds, budget_usage, budgets
from tollway.store.webhooks import enqueue_event

__all__ = ["Budget", "BudgetStore", "Currency", "Hold", "Period", "window_of"]

Period = Literal["day", "month", "total"]
Currency = Literal["wei", "usd"]
WEI_PER_ETH = 10**18
ALERT_PERCENTS = (50, 80, 100)
"""A budget's window raises a `budget.threshold` webhook event as its spend (settled costs and
running jobs' holds, counted as each job settles) reaches each of these shares of the limit."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Hold(StrEnum):
    NONE = "none"
    """No budget applies to the job."""
    NEW = "new"
    KEPT = "kept"
    """The job id held already."""


class Budget(BaseModel):
    id: str
    tenant: str
    key_id: str | None = None
    """None: the tenant's budget, over all its keys."""
    period: Period
    currency: Currency
    amount: str
    """The limit in `currency`: wei as an integer, USD as a decimal."""
    created_at: datetime
    limit_wei: int | None = None
    """The limit in wei now (USD at the gateway's `usd_per_eth`); None without a rate."""
    spent_wei: int = 0
    """Settled costs and running jobs' holds in the current window."""
    window_start: datetime | None = None
    resets_at: datetime | None = None
    """When the window ends (None for a total)."""


def window_of(period: Period, now: datetime) -> tuple[datetime, datetime | None]:
    """The window containing `now`: its start, and its end (when the budget resets)."""
    now = now.astimezone(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return midnight, midnight + timedelta(days=1)
    if period == "month":
        start = midnight.replace(day=1)
        if start.month == 12:
            return start, start.replace(year=start.year + 1, month=1)
        return start, start.replace(month=start.month + 1)
    return EPOCH, None


def limit_in_wei(currency: str, amount: str, usd_per_eth: float | None) -> int | None:
    if currency == "wei":
        return int(amount)
    if not usd_per_eth:
        return None
    return int(Decimal(amount) / Decimal(str(usd_per_eth)) * WEI_PER_ETH)


class BudgetStore:
    def __init__(self, database: Database, usd_per_eth: float | None = None) -> None:
        self._db = database
        self._usd_per_eth = usd_per_eth

    async def set_budget(
        self, tenant: str, key_id: str | None, period: Period, currency: Currency, amount: str
    ) -> Budget:
        """The tenant's (or key's) budget for `period`, made or its limit replaced; what it has
        spent so far stays."""
        _check_amount(currency, amount)
        if currency == "usd" and not self._usd_per_eth:
            raise BadRequest(
                "a USD budget needs the gateway's `usd_per_eth` rate; give amount_wei",
                field="amount_usd",
            )
        async with self._db.sessions.begin() as session:
            existing = (
                await session.execute(
                    select(budgets.c.id).where(
                        budgets.c.tenant == tenant,
                        budgets.c.key_id.is_(None)
                        if key_id is None
                        else budgets.c.key_id == key_id,
                        budgets.c.period == period,
                    )
                )
            ).first()
            if existing is not None:
                budget_id = existing.id
                await session.execute(
                    update(budgets)
                    .where(budgets.c.id == budget_id)
                    .values(currency=currency, amount=amount, version=budgets.c.version + 1)
                )
            else:
                budget_id = "bud_" + secrets.token_hex(8)
                await session.execute(
                    insert(budgets).values(
                        id=budget_id,
                        tenant=tenant,
                        key_id=key_id,
                        period=period,
                        currency=currency,
                        amount=amount,
                        created_at=utc_now(),
                        version=0,
                    )
                )
        return await self.get_budget(budget_id)

    async def get_budget(self, budget_id: str) -> Budget:
        found = await self._budgets(budgets.c.id == budget_id)
        if not found:
            raise NotFound(f"no budget {budget_id!r}")
        return found[0]

    async def list_budgets(self, tenant: str | None = None) -> list[Budget]:
        return await self._budgets(budgets.c.tenant == tenant if tenant is not None else None)

    async def delete_budget(self, budget_id: str) -> None:
        await self.get_budget(budget_id)
        async with self._db.sessions.begin() as session:
            await session.execute(delete(budget_holds).where(budget_holds.c.budget_id == budget_id))
            await session.execute(delete(budget_usage).where(budget_usage.c.budget_id == budget_id))
            await session.execute(delete(budgets).where(budgets.c.id == budget_id))

    async def reserve(self, job_id: str, tenant: str, key_id: str | None, wei: int) -> Hold:
        """Hold `wei` for the job against every budget of its tenant and key, all or none:
        BudgetExceeded (402) naming the first limit it would pass. NONE when no budget applies;
        KEPT when the job id holds already (a replayed submission), which is not held twice."""
        now = utc_now()
        applies = budgets.c.tenant == tenant
        mine: ColumnElement[bool] = budgets.c.key_id.is_(None)
        if key_id is not None:
            mine = or_(mine, budgets.c.key_id == key_id)
        async with self._db.sessions.begin() as session:
            # The lock first: on SQLite a write before any read waits for the write lock.
            locked = await session.execute(
                update(budgets).where(applies, mine).values(version=budgets.c.version + 1)
            )
            if _rowcount(locked) == 0:
                return Hold.NONE
            held = await session.execute(
                select(budget_holds.c.budget_id).where(budget_holds.c.job_id == job_id)
            )
            if held.first() is not None:
                return Hold.KEPT
            rows = (await session.execute(select(budgets).where(applies, mine))).mappings().all()
            for row in rows:
                start, resets = window_of(row["period"], now)
                spent = await _spent(session, row["id"], start)
                limit = limit_in_wei(row["currency"], row["amount"], self._usd_per_eth)
                if limit is None or spent + wei > limit:
                    scope = f"key {row['key_id']}" if row["key_id"] else f"tenant {tenant!r}"
                    raise BudgetExceeded(
                        f"the {scope}'s {row['period']} budget would be passed: "
                        f"this job may cost up to {wei} wei, {spent} of {limit} wei are spent "
                        "or held",
                        budget_id=row["id"],
                        period=row["period"],
                        limit_wei=str(limit) if limit is not None else None,
                        spent_wei=str(spent),
                        job_max_wei=str(wei),
                        resets_at=resets.isoformat() if resets else None,
                    )
                await _add(session, row["id"], start, wei)
                await session.execute(
                    insert(budget_holds).values(
                        job_id=job_id,
                        budget_id=row["id"],
                        window_start=start,
                        reserved_wei=str(wei),
                    )
                )
        return Hold.NEW

    async def settle(self, job_id: str, cost_wei: int) -> bool:
        """Replace the job's holds by its real cost (0 for a job that failed); once: True
        when settled now, False when it was already (or held nothing)."""
        async with self._db.sessions.begin() as session:
            held = (
                (
                    await session.execute(
                        select(budget_holds).where(
                            budget_holds.c.job_id == job_id, budget_holds.c.settled_at.is_(None)
                        )
                    )
                )
                .mappings()
                .all()
            )
            if not held:
                return False
            await session.execute(
                update(budgets)
                .where(budgets.c.id.in_([h["budget_id"] for h in held]))
                .values(version=budgets.c.version + 1)
            )
            settled = await session.execute(
                update(budget_holds)
                .where(budget_holds.c.job_id == job_id, budget_holds.c.settled_at.is_(None))
                .values(cost_wei=str(cost_wei), settled_at=utc_now())
            )
            if _rowcount(settled) == 0:
                return False  # another process settled it first
            for hold in held:
                delta = cost_wei - int(hold["reserved_wei"])
                await _add(session, hold["budget_id"], hold["window_start"], delta)
                await self._alert(session, hold["budget_id"], hold["window_start"])
        return True

    async def _alert(self, session: AsyncSession, budget_id: str, start: datetime) -> None:
        """Raise `budget.threshold` for each of ALERT_PERCENTS the window's spend has reached
        since the last settlement, once per window (the caller holds the budget's lock)."""
        row = (
            (await session.execute(select(budgets).where(budgets.c.id == budget_id)))
            .mappings()
            .first()
        )
        limit = limit_in_wei(row["currency"], row["amount"], self._usd_per_eth) if row else None
        if row is None or not limit:
            return
        spent = await _spent(session, budget_id, start)
        reached = [p for p in ALERT_PERCENTS if spent * 100 >= limit * p]
        if not reached:
            return
        sent: set[int] = set(
            (
                await session.execute(
                    select(budget_alerts.c.percent).where(
                        budget_alerts.c.budget_id == budget_id,
                        budget_alerts.c.window_start == start,
                    )
                )
            ).scalars()
        )
        now = utc_now()
        _, resets = window_of(row["period"], start)
        for percent in (p for p in reached if p not in sent):
            await session.execute(
                insert(budget_alerts).values(
                    budget_id=budget_id, window_start=start, percent=percent, created_at=now
                )
            )
            alert = BudgetAlert(
                budget_id=budget_id,
                tenant=row["tenant"],
                key_id=row["key_id"],
                period=row["period"],
                percent=percent,
                limit_wei=str(limit),
                spent_wei=str(spent),
                window_start=start,
                resets_at=resets,
            )
            data = alert.model_dump(mode="json")
            await enqueue_event(session, row["tenant"], None, "budget.threshold", data)

    async def _budgets(self, where: object | None) -> list[Budget]:
        query = select(budgets).order_by(budgets.c.tenant, budgets.c.created_at)
        if where is not None:
            query = query.where(where)  # type: ignore[arg-type]
        now = utc_now()
        found = []
        async with self._db.sessions() as session:
            for row in (await session.execute(query)).mappings().all():
                start, resets = window_of(row["period"], now)
                found.append(
                    Budget(
                        **{k: row[k] for k in ("id", "tenant", "key_id", "period", "currency")},
                        amount=row["amount"],
                        created_at=row["created_at"],
                        limit_wei=limit_in_wei(row["currency"], row["amount"], self._usd_per_eth),
                        spent_wei=await _spent(session, row["id"], start),
                        window_start=start,
                        resets_at=resets,
                    )
                )
        return found


async def _spent(session: AsyncSession, budget_id: str, start: datetime) -> int:
    row = (
        await session.execute(
            select(budget_usage.c.spent_wei).where(
                budget_usage.c.budget_id == budget_id, budget_usage.c.window_start == start
            )
        )
    ).first()
    return int(row.spent_wei) if row is not None else 0


async def _add(session: AsyncSession, budget_id: str, start: datetime, wei: int) -> None:
    """Add `wei` to the window's spend (the caller holds the budget's lock)."""
    spent = await _spent(session, budget_id, start)
    changed = await session.execute(
        update(budget_usage)
        .where(budget_usage.c.budget_id == budget_id, budget_usage.c.window_start == start)
        .values(spent_wei=str(spent + wei))
    )
    if _rowcount(changed) == 0:
        await session.execute(
            insert(budget_usage).values(budget_id=budget_id, window_start=start, spent_wei=str(wei))
        )


def _rowcount(result: Result[Any]) -> int:
    """Rows a DML statement touched (its result is a CursorResult)."""
    return cast(CursorResult[Any], result).rowcount


def _check_amount(currency: str, amount: str) -> None:
    field = f"amount_{currency}"
    try:
        value = Decimal(amount)
    except InvalidOperation as exc:
        raise BadRequest(f"{field} is not a number", field=field) from exc
    if not value.is_finite() or value < 0:
        raise BadRequest(f"{field} must be a finite amount of at least 0", field=field)
    if currency == "wei" and value != value.to_integral_value():
        raise BadRequest("amount_wei must be a whole number of wei", field=field)
