"""The market store: snapshot, performance EWMAs and breakers persist across connections
(another process, or a restart) and the cached view follows other connections' writes."""

from __future__ import annotations

from pathlib import Path

from tollway.market.breaker import BreakerSettings, FailureKind
from tollway.market.store import SUCCESS_PRIOR, KnownOrchestrator, MarketStore
from tollway.protocol.info import CapabilityOffer, OrchestratorInfo

ADDRESS = "0x" + "ab" * 20


def info(price: int = 10) -> OrchestratorInfo:
    return OrchestratorInfo(
        address=ADDRESS,
        service_addr="http://o",
        version="0.1.0",
        capabilities=[CapabilityOffer(name="echo", price_wei=price, capacity=2, available=1)],
    )


def test_snapshot_round_trips_and_replaces(tmp_path: Path) -> None:
    store = MarketStore(tmp_path / "m.sqlite")
    store.replace_snapshot(
        [
            KnownOrchestrator("http://a", ("static",), info(), stake=5),
            KnownOrchestrator("http://b", ("webhook",), None, "no /v1/info"),
        ]
    )
    view = store.view()
    assert [o.url for o in view.orchestrators] == ["http://a", "http://b"]
    assert view.orchestrators[0].info == info()
    assert view.orchestrators[0].stake == 5
    assert view.orchestrators[1].info_error == "no /v1/info"
    assert view.snapshot_at > 0

    store.replace_snapshot([KnownOrchestrator("http://c", ("chain",), info(3))])
    assert [o.url for o in store.view().orchestrators] == ["http://c"]


def test_performance_ewma(tmp_path: Path) -> None:
    store = MarketStore(tmp_path / "m.sqlite")
    store.record_success("http://a", "echo", 100.0)
    store.record_success("http://a", "echo", 200.0)
    performance = store.view().performance[("http://a", "echo")]
    assert performance.latency_ms == 130.0  # 100 + 0.3 x (200 - 100)
    assert performance.jobs == 2
    assert performance.success > SUCCESS_PRIOR
    store.record_failure("http://a", "echo", FailureKind.FAILED, "500")
    after = store.view().performance[("http://a", "echo")]
    assert after.success < performance.success
    assert (after.jobs, after.failures) == (3, 1)


def test_another_connection_sees_writes_and_breakers_survive_a_restart(tmp_path: Path) -> None:
    settings = BreakerSettings(threshold=1, base_cooldown_seconds=60)
    api = MarketStore(tmp_path / "m.sqlite", settings)
    worker = MarketStore(tmp_path / "m.sqlite", settings)
    assert api.view().breakers == {}
    breaker = worker.record_failure("http://dead", None, FailureKind.UNREACHABLE, "refused")
    assert breaker.openings == 1
    assert api.view().breakers["http://dead"] == breaker
    worker.close()
    restarted = MarketStore(tmp_path / "m.sqlite", settings)
    assert restarted.view().breakers["http://dead"].last_reason == "refused"
    restarted.record_success("http://dead", "echo", 5.0)
    assert api.view().breakers["http://dead"].openings == 0


def test_an_older_refresh_finishing_late_does_not_replace_a_newer_snapshot(
    tmp_path: Path,
) -> None:
    store = MarketStore(tmp_path / "m.sqlite")
    store.replace_snapshot([KnownOrchestrator("https://new", ("static",), info())], taken_at=200.0)
    store.replace_snapshot([KnownOrchestrator("https://old", ("static",), info())], taken_at=100.0)
    view = store.view()
    assert view.snapshot_at == 200.0
    assert [o.url for o in view.orchestrators] == ["https://new"]
