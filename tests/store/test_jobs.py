"""The job index on each database: recorded once, finished once, listed newest first by a
keyset cursor with filters, summed into usage, and its expired data found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tollway.errors import BadRequest
from tollway.store.database import Database, utc_now
from tollway.store.jobs import JobIndex


async def test_a_job_is_recorded_and_finished_once(database: Database) -> None:
    index = JobIndex(database)
    await index.add("acme.a", "acme", "key_1", "echo", "in-a")
    await index.add("acme.a", "acme", "key_2", "other", "in-b")  # a replay keeps the first
    record = await index.get("acme.a")
    assert record is not None
    assert (record.key_id, record.capability, record.state) == ("key_1", "echo", "running")
    await index.finish(
        "acme.a", "succeeded", timedelta(hours=1), orchestrator="http://o", unit="second",
        units=3, cost_wei=3 * 10**20, output_artifact="out-a",
    )  # fmt: skip
    await index.finish("acme.a", "failed", timedelta(0), error="late")  # ends once
    record = await index.get("acme.a")
    assert record is not None and record.state == "succeeded"
    assert record.cost_wei == 3 * 10**20  # past 2^63: kept exactly
    assert record.expires_at is not None and record.completed_at is not None
    assert record.expires_at - record.completed_at == timedelta(hours=1)
    assert await index.artifacts("acme.a") == ["in-a", "out-a"]
    assert await index.get("acme.missing") is None


async def test_pages_come_newest_first_by_cursor(database: Database) -> None:
    index = JobIndex(database)
    for n in range(7):
        await index.add(f"acme.{n}", "acme", None, "echo" if n % 2 else "torch", f"in{n}")
    await index.add("other.x", "other", None, "echo", "x")
    await index.finish("acme.3", "failed", timedelta(hours=1))
    seen: list[str] = []
    cursor = None
    while True:
        page = await index.page("acme", limit=3, cursor=cursor)
        seen += [r.id for r in page.data]
        if not page.has_more:
            assert page.next_cursor is None
            break
        cursor = page.next_cursor
    assert seen == [f"acme.{n}" for n in reversed(range(7))]
    echo = await index.page("acme", capability="echo")
    assert [r.id for r in echo.data] == ["acme.5", "acme.3", "acme.1"]
    failed = await index.page("acme", states=["failed"])
    assert [r.id for r in failed.data] == ["acme.3"]
    future = await index.page("acme", created_after=utc_now() + timedelta(minutes=1))
    assert future.data == []
    with pytest.raises(BadRequest, match="cursor"):
        await index.page("acme", cursor="garbage!")


async def test_usage_sums_by_day_key_and_capability(database: Database) -> None:
    index = JobIndex(database)
    jobs = [("a", "k1", "echo", 2, 100), ("b", "k1", "echo", 3, 150), ("c", "k2", "torch", 1, 7)]
    for job_id, key, capability, units, cost in jobs:
        await index.add(job_id, "acme", key, capability, "in")
        await index.finish(
            job_id, "succeeded", timedelta(hours=1), unit="second", units=units, cost_wei=cost
        )
    await index.add("d", "acme", "k1", "echo", "in")  # still running: not in usage
    start = utc_now() - timedelta(hours=1)
    end = utc_now() + timedelta(hours=1)
    [total] = await index.usage("acme", start, end, [])
    assert (total.jobs, total.cost_wei, total.units) == (3, 257, {"second": 6})
    by_key = await index.usage("acme", start, end, ["key"], usd_per_eth=2000.0)
    assert [(r.key_id, r.jobs, r.cost_wei) for r in by_key] == [("k1", 2, 250), ("k2", 1, 7)]
    assert by_key[0].cost_usd == round(250 / 10**18 * 2000, 6)
    by_day = await index.usage("acme", start, end, ["day", "capability"])
    assert {(r.day, r.capability) for r in by_day} == {
        (utc_now().date(), "echo"),
        (utc_now().date(), "torch"),
    }
    [only] = await index.usage("acme", start, end, ["key"], key_id="k2")
    assert (only.key_id, only.jobs, only.cost_wei) == ("k2", 1, 7)
    assert await index.usage("other", start, end, ["day"]) == []


async def test_expired_data_is_found_and_marked_removed(database: Database) -> None:
    index = JobIndex(database)
    await index.add("a", "acme", None, "echo", "in-a")
    await index.finish("a", "succeeded", timedelta(seconds=0), output_artifact="out-a")
    await index.add("b", "acme", None, "echo", "in-b")
    await index.finish("b", "succeeded", timedelta(hours=1))
    expired = await index.expired(utc_now() + timedelta(seconds=1))
    assert expired == [("a", ["in-a", "out-a"])]
    await index.mark_removed("a")
    assert await index.expired(datetime.now(UTC) + timedelta(seconds=1)) == []
    record = await index.get("a")
    assert record is not None and record.data_removed


async def test_events_are_numbered_per_job_and_end_once(database: Database) -> None:
    index = JobIndex(database)
    await index.add("a", "acme", None, "echo", "in")
    await index.add("a", "acme", None, "echo", "in")  # a replay adds no event
    await index.add_event("a", "job.started", {"orchestrator": "http://o1"})
    await index.add_event("a", "job.started", {"orchestrator": "http://o2"})
    await index.finish("a", "succeeded", timedelta(hours=1), cost_wei=5)
    await index.finish("a", "failed", timedelta(hours=1))  # ended already: no event
    events = await index.events("a")
    assert [(e.seq, e.type) for e in events] == [
        (1, "job.queued"),
        (2, "job.started"),
        (3, "job.started"),
        (4, "job.succeeded"),
    ]
    assert events[2].data == {"orchestrator": "http://o2"} and events[3].final
    assert events[3].data["cost_wei"] == "5"
    assert [e.seq for e in await index.events("a", after=2)] == [3, 4]
    assert await index.events("missing") == []
