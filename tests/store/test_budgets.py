"""Budgets on each database: reserve the worst case, settle the real cost, never overspend
under concurrent jobs, and refuse past a limit naming it, what was spent and when it resets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tollway.errors import BadRequest, BudgetExceeded
from tollway.store.budgets import BudgetStore, Hold, window_of
from tollway.store.database import Database
from tollway.store.tenants import TenantStore


async def tenant_with_key(database: Database) -> str:
    tenants = TenantStore(database)
    await tenants.create_tenant("acme")
    return (await tenants.create_key("acme")).key.id


async def test_concurrent_reservations_never_pass_the_limit(database: Database) -> None:
    await tenant_with_key(database)
    store = BudgetStore(database)
    await store.set_budget("acme", None, "day", "wei", str(20 * 1000))
    results = await asyncio.gather(
        *(store.reserve(f"job-{n}", "acme", None, 1000) for n in range(50)),
        return_exceptions=True,
    )
    held = [r for r in results if r == Hold.NEW]
    refused = [r for r in results if isinstance(r, BudgetExceeded)]
    assert (len(held), len(refused)) == (20, 30), results
    [budget] = await store.list_budgets("acme")
    assert budget.spent_wei == 20 * 1000
    error = refused[0]
    assert error.status_code == 402
    assert error.details["limit_wei"] == "20000" and error.details["period"] == "day"
    resets = window_of("day", datetime.now(UTC))[1]
    assert resets is not None and error.details["resets_at"] == resets.isoformat()


async def test_settling_replaces_the_hold_by_the_real_cost_once(database: Database) -> None:
    key_id = await tenant_with_key(database)
    store = BudgetStore(database)
    await store.set_budget("acme", None, "total", "wei", "10000")
    key_budget = await store.set_budget("acme", key_id, "month", "wei", "6000")
    assert await store.reserve("a", "acme", key_id, 5000) == Hold.NEW
    assert await store.reserve("a", "acme", key_id, 5000) == Hold.KEPT  # a replay holds once
    with pytest.raises(BudgetExceeded, match=f"key {key_id}'s month budget") as refused:
        await store.reserve("b", "acme", key_id, 5000)
    assert refused.value.details["spent_wei"] == "5000"
    assert await store.settle("a", 1200) is True
    assert await store.settle("a", 1200) is False
    spent = {b.id: b.spent_wei for b in await store.list_budgets("acme")}
    assert spent[key_budget.id] == 1200 and set(spent.values()) == {1200}
    assert await store.reserve("b", "acme", key_id, 4800) == Hold.NEW
    # Another key of the tenant meets only the tenant's budget.
    assert await store.reserve("c", "acme", "key_other", 3000) == Hold.NEW
    with pytest.raises(BudgetExceeded, match="tenant 'acme'"):
        await store.reserve("d", "acme", "key_other", 1001)
    assert await store.settle("b", 0) is True  # a failed job costs nothing
    assert await store.reserve("d", "acme", "key_other", 1001) == Hold.NEW


async def test_no_budget_holds_nothing(database: Database) -> None:
    await tenant_with_key(database)
    store = BudgetStore(database)
    assert await store.reserve("a", "acme", None, 10**30) == Hold.NONE
    assert await store.settle("a", 5) is False


async def test_usd_budgets_use_the_rate_and_limits_are_replaced(database: Database) -> None:
    await tenant_with_key(database)
    with pytest.raises(BadRequest, match="usd_per_eth"):
        await BudgetStore(database).set_budget("acme", None, "day", "usd", "10")
    store = BudgetStore(database, usd_per_eth=2000.0)
    budget = await store.set_budget("acme", None, "day", "usd", "10")
    assert budget.limit_wei == 5 * 10**15  # $10 at $2000/ETH
    assert await store.reserve("a", "acme", None, 5 * 10**15) == Hold.NEW
    with pytest.raises(BudgetExceeded):
        await store.reserve("b", "acme", None, 1)
    replaced = await store.set_budget("acme", None, "day", "wei", str(10**16))
    assert replaced.id == budget.id and replaced.spent_wei == 5 * 10**15
    assert await store.reserve("b", "acme", None, 10**15) == Hold.NEW
    for bad in ("-1", "nan", "1.5", "ten"):
        with pytest.raises(BadRequest):
            await store.set_budget("acme", None, "day", "wei", bad)


def test_windows() -> None:
    moment = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    assert window_of("day", moment) == (
        datetime(2026, 12, 31, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert window_of("month", moment) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert window_of("month", datetime(2026, 2, 10, tzinfo=UTC))[1] == datetime(
        2026, 3, 1, tzinfo=UTC
    )
    assert window_of("total", moment)[1] is None
