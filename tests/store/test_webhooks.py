"""Webhooks on each database: a job's events and a budget's thresholds land in the outbox, in
the transaction that made them, once per webhook whose filter wants them; the delivery log
records each attempt; a replay counts and resets a delivery."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tollway.errors import BadRequest, NotFound
from tollway.store.budgets import BudgetStore
from tollway.store.database import Database, utc_now
from tollway.store.jobs import JobIndex
from tollway.store.tenants import TenantStore
from tollway.store.webhooks import WebhookStore

RECEIVER = "https://hooks.example/tollway"


async def store_with_tenants(database: Database) -> WebhookStore:
    tenants = TenantStore(database)
    await tenants.create_tenant("acme")
    await tenants.create_tenant("other")
    return WebhookStore(database)


async def deliveries(store: WebhookStore, tenant: str = "acme") -> list[tuple[str, str | None]]:
    page = await store.page(tenant, limit=200)
    return sorted((d.event_type, d.job_id) for d in page.data)


async def test_job_events_reach_the_webhooks_that_want_them(database: Database) -> None:
    store = await store_with_tenants(database)
    everything = await store.create("acme", RECEIVER, [])
    endings = await store.create("acme", RECEIVER + "/end", ["job.succeeded", "job.failed"])
    await store.create("other", RECEIVER, [])  # another tenant's: sees none of acme's
    index = JobIndex(database)
    await index.add("acme.j1", "acme", None, "echo", "artifact")
    await index.add_event("acme.j1", "job.started", {"orchestrator": "https://o1"})
    await index.finish("acme.j1", "succeeded", timedelta(hours=1), cost_wei=42)
    await index.finish("acme.j1", "succeeded", timedelta(hours=1))  # recorded once: no event

    assert await deliveries(store) == [
        ("job.queued", "acme.j1"),
        ("job.started", "acme.j1"),
        ("job.succeeded", "acme.j1"),
        ("job.succeeded", "acme.j1"),
    ]
    assert await deliveries(store, "other") == []
    [ended] = (await store.page("acme", webhook_id=endings.id)).data
    assert ended.payload["type"] == "job.succeeded"
    assert ended.payload["data"]["id"] == "acme.j1"
    assert ended.payload["data"]["cost_wei"] == 42
    assert ended.state == "pending" and ended.attempts == 0
    started = (await store.page("acme", webhook_id=everything.id, event_type="job.started")).data
    assert started[0].payload["data"]["orchestrator"] == "https://o1"
    assert len(await store.undispatched()) == 4


async def test_a_jobs_own_webhook_hears_only_that_job(database: Database) -> None:
    store = await store_with_tenants(database)
    index = JobIndex(database)
    mine = await store.add_for_job("acme", "acme.j1", RECEIVER, ["job.succeeded"])
    again = await store.add_for_job("acme", "acme.j1", RECEIVER, ["job.succeeded"])
    assert again.id == mine.id  # a replayed submission adds no second webhook
    for job in ("acme.j1", "acme.j2"):
        await index.add(job, "acme", None, "echo", "artifact")
        await index.finish(job, "succeeded", timedelta(hours=1))
    assert await deliveries(store) == [("job.succeeded", "acme.j1")]
    assert await store.list_webhooks("acme") == []  # a job's webhook is not the tenant's
    secret = await store.tenant_secret("acme")
    assert secret.startswith("whsec_") and await store.tenant_secret("acme") == secret
    found = await store.to_send((await store.undispatched())[0])
    assert found is not None and found[2] == secret


async def test_attempts_are_logged_and_a_replay_resets_the_delivery(database: Database) -> None:
    store = await store_with_tenants(database)
    webhook = await store.create("acme", RECEIVER, ["job.queued"])
    await JobIndex(database).add("acme.j1", "acme", None, "echo", "artifact")
    [delivery_id] = await store.undispatched()
    await store.mark_dispatched(delivery_id)
    assert await store.undispatched() == []
    for final in (False, True):
        await store.record_attempt(
            delivery_id,
            delivered=False,
            status=503,
            error="answered 503",
            duration_ms=7,
            final=final,
        )
    failed = await store.delivery("acme", delivery_id)
    assert (failed.state, failed.attempts, failed.last_status) == ("failed", 2, 503)
    assert [a.number for a in failed.attempt_log or []] == [1, 2]

    assert await store.begin_replay("acme", delivery_id) == 1
    assert (await store.delivery("acme", delivery_id)).state == "pending"
    await store.record_attempt(
        delivery_id, delivered=True, status=204, error=None, duration_ms=3, final=False
    )
    done = await store.delivery("acme", delivery_id)
    assert (done.state, done.attempts, done.replays) == ("delivered", 3, 1)
    assert done.delivered_at is not None

    with pytest.raises(NotFound):
        await store.delivery("other", delivery_id)  # another tenant's: not found
    with pytest.raises(NotFound):
        await store.begin_replay("other", delivery_id)
    await store.delete("acme", webhook.id)
    assert await store.to_send(delivery_id) is None  # deleted: nothing more is sent
    with pytest.raises(NotFound):
        await store.delete("acme", webhook.id)


async def test_unknown_event_types_are_refused(database: Database) -> None:
    store = await store_with_tenants(database)
    with pytest.raises(BadRequest, match="unknown webhook event types") as refused:
        await store.create("acme", RECEIVER, ["job.exploded"])  # type: ignore[list-item]
    assert refused.value.details["field"] == "event_types"


async def test_the_delivery_log_pages_newest_first(database: Database) -> None:
    store = await store_with_tenants(database)
    await store.create("acme", RECEIVER, ["job.queued"])
    index = JobIndex(database)
    for n in range(5):
        await index.add(f"acme.j{n}", "acme", None, "echo", "artifact")
    first = await store.page("acme", limit=3)
    assert first.has_more and first.next_cursor is not None
    rest = await store.page("acme", limit=3, cursor=first.next_cursor)
    seen = [d.job_id for d in first.data + rest.data]
    assert seen == [f"acme.j{n}" for n in reversed(range(5))]
    assert not rest.has_more
    with pytest.raises(BadRequest, match="cursor"):
        await store.page("acme", cursor="not-a-cursor")


async def test_budget_thresholds_raise_one_event_each_per_window(database: Database) -> None:
    store = await store_with_tenants(database)
    await store.create("acme", RECEIVER, ["budget.threshold"])
    budgets = BudgetStore(database)
    budget = await budgets.set_budget("acme", None, "day", "wei", "1000")
    for job, cost in (("a", 400), ("b", 200), ("c", 100), ("d", 300)):
        await budgets.reserve(job, "acme", None, cost)
        await budgets.settle(job, cost)
    # 400 (40%), 600 (60%: 50 reached), 700 (70%), 1000 (100%: 80 and 100 reached)
    alerts = (await store.page("acme", event_type="budget.threshold")).data
    reached = sorted(d.payload["data"]["percent"] for d in alerts)
    assert reached == [50, 80, 100]
    top = next(d for d in alerts if d.payload["data"]["percent"] == 100)
    assert top.payload["data"]["budget_id"] == budget.id
    assert top.payload["data"]["spent_wei"] == "1000" and top.job_id is None


async def test_old_finished_deliveries_leave_the_log_and_unfinished_ones_stay(
    database: Database,
) -> None:
    store = await store_with_tenants(database)
    await store.create("acme", RECEIVER, ["job.queued"])
    index = JobIndex(database)
    for n in range(4):
        await index.add(f"acme.j{n}", "acme", None, "echo", "artifact")
    delivered, failed, retrying, pending = await store.undispatched()
    for delivery_id, ok, final in ((delivered, True, False), (failed, False, True)):
        await store.record_attempt(
            delivery_id, delivered=ok, status=None, error=None, duration_ms=1, final=final
        )
    await store.record_attempt(
        retrying, delivered=False, status=500, error="answered 500", duration_ms=1, final=False
    )

    assert await store.prune(utc_now() - timedelta(minutes=1)) == 0  # none is that old yet
    assert await store.prune(utc_now() + timedelta(minutes=1), batch=1) == 2
    left = {d.id: d.state for d in (await store.page("acme", limit=10)).data}
    assert left == {retrying: "retrying", pending: "pending"}
    with pytest.raises(NotFound):
        await store.delivery("acme", delivered)
    assert await store.prune(utc_now() + timedelta(minutes=1)) == 0
