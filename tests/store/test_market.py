"""The market store in the gateway database, on SQLite and PostgreSQL: snapshot, performance
EWMAs and breakers persist across processes (another host, or a restart), each process's
cached view shows its own writes at once and the others' within VIEW_SECONDS, and concurrent
writers on several hosts lose nothing."""

from __future__ import annotations

import asyncio

import pytest

from tollway.market.breaker import BreakerSettings, FailureKind
from tollway.market.store import SUCCESS_PRIOR, VIEW_SECONDS, KnownOrchestrator, MarketStore
from tollway.protocol.info import CapabilityOffer, OrchestratorInfo
from tollway.store.database import Database, open_database

ADDRESS = "0x" + "ab" * 20


def info(price: int = 10) -> OrchestratorInfo:
    return OrchestratorInfo(
        address=ADDRESS,
        service_addr="http://o",
        version="0.1.0",
        capabilities=[CapabilityOffer(name="echo", price_wei=price, capacity=2, available=1)],
    )


async def test_snapshot_round_trips_and_replaces(database: Database) -> None:
    store = MarketStore(database)
    assert (await store.view()).snapshot_at == 0.0  # no snapshot yet
    await store.replace_snapshot(
        [
            KnownOrchestrator("http://a", ("static", "chain"), info(), stake=10**30),
            KnownOrchestrator("http://b", ("webhook",), None, "no /v1/info"),
        ]
    )
    view = await store.view()
    assert [o.url for o in view.orchestrators] == ["http://a", "http://b"]
    assert view.orchestrators[0].info == info()
    assert view.orchestrators[0].sources == ("static", "chain")
    assert view.orchestrators[0].stake == 10**30  # past 2^63: kept exactly
    assert view.orchestrators[1].info is None
    assert view.orchestrators[1].info_error == "no /v1/info"
    assert view.snapshot_at > 0

    await store.replace_snapshot([KnownOrchestrator("http://c", ("chain",), info(3))])
    assert [o.url for o in (await store.view()).orchestrators] == ["http://c"]


async def test_performance_ewma(database: Database) -> None:
    store = MarketStore(database)
    await store.record_success("http://a", "echo", 100.0)
    await store.record_success("http://a", "echo", 200.0)
    performance = (await store.view()).performance[("http://a", "echo")]
    assert performance.latency_ms == 130.0  # 100 + 0.3 x (200 - 100)
    assert performance.jobs == 2
    assert performance.success > SUCCESS_PRIOR
    await store.record_failure("http://a", "echo", FailureKind.FAILED, "500")
    after = (await store.view()).performance[("http://a", "echo")]
    assert after.success < performance.success
    assert (after.jobs, after.failures) == (3, 1)


async def test_the_view_is_reread_only_when_the_market_changed(database: Database) -> None:
    store = MarketStore(database)
    await store.replace_snapshot([KnownOrchestrator("http://a", ("static",), info())])
    first = await store.view()
    assert await store.view() is first  # nothing written since: the cached view
    await store.record_success("http://a", "echo", 50.0)
    second = await store.view()
    assert second is not first and second.performance[("http://a", "echo")].latency_ms == 50.0
    await asyncio.sleep(VIEW_SECONDS)
    third = await store.view()  # read again: the version moved
    assert third.performance == second.performance
    assert third.orchestrators is first.orchestrators  # the snapshot itself was not re-read
    await asyncio.sleep(VIEW_SECONDS)
    assert await store.view() is third  # nothing written since
    await store.replace_snapshot([KnownOrchestrator("http://b", ("static",), info())])
    assert [o.url for o in (await store.view()).orchestrators] == ["http://b"]


async def test_an_older_refresh_finishing_late_does_not_replace_a_newer_snapshot(
    database: Database,
) -> None:
    store = MarketStore(database)
    await store.replace_snapshot(
        [KnownOrchestrator("https://new", ("static",), info())], taken_at=200.0
    )
    await store.replace_snapshot(
        [KnownOrchestrator("https://old", ("static",), info())], taken_at=100.0
    )
    view = await store.view()
    assert view.snapshot_at == 200.0
    assert [o.url for o in view.orchestrators] == ["https://new"]


async def test_two_hosts_share_breakers_and_they_survive_a_restart(database_url: str) -> None:
    """Two processes' databases on one, as two gateway hosts: a breaker one host opens is open
    in the other's view, and a third process started later still finds it."""
    settings = BreakerSettings(threshold=1, base_cooldown_seconds=60)
    first, second = open_database(database_url), open_database(database_url)
    try:
        host_a, host_b = MarketStore(first, settings), MarketStore(second, settings)
        assert (await host_a.view()).breakers == {}
        breaker = await host_b.record_failure(
            "http://dead", None, FailureKind.UNREACHABLE, "refused"
        )
        assert breaker.openings == 1
        assert (await host_b.view()).breakers["http://dead"] == breaker  # its own: at once
        await asyncio.sleep(VIEW_SECONDS)  # the other host's view: within VIEW_SECONDS
        seen = (await host_a.view()).breakers["http://dead"]
        assert seen == breaker and seen.is_open(breaker.open_until - 1)
        await second.close()
        restarted_db = open_database(database_url)
        try:
            restarted = MarketStore(restarted_db, settings)
            assert (await restarted.view()).breakers["http://dead"].last_reason == "refused"
            await restarted.record_success("http://dead", "echo", 5.0)
        finally:
            await restarted_db.close()
        await asyncio.sleep(VIEW_SECONDS)
        assert (await host_a.view()).breakers["http://dead"].openings == 0
    finally:
        await first.close()
        await second.close()


async def test_concurrent_failures_on_two_hosts_are_all_counted(database_url: str) -> None:
    """Each failure reads and rewrites the EWMA and the breaker; 2 x 50 at once, from two
    hosts, and not one is lost."""
    first, second = open_database(database_url), open_database(database_url)
    try:
        hosts = [MarketStore(first), MarketStore(second)]
        await asyncio.gather(
            *(
                hosts[n % 2].record_failure("http://flaky", "echo", FailureKind.FAILED, f"#{n}")
                for n in range(100)
            )
        )
        for host in hosts:
            view = await host.view()
            performance = view.performance[("http://flaky", "echo")]
            assert (performance.jobs, performance.failures) == (100, 100)
            assert performance.success == pytest.approx(SUCCESS_PRIOR * 0.8**100)
            assert view.breakers["http://flaky"].consecutive_failures == 100
    finally:
        await first.close()
        await second.close()
