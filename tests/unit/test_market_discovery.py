"""Discovery input from outside is ignored with a logged reason and a metric, never a crash:
webhook answers, orchestrator infos and job tokens. HTTP here goes to stand-in handlers
(httpx.MockTransport); the real processes are in tests/e2e/test_marketplace.py."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from prometheus_client import REGISTRY
from temporalio.testing import ActivityEnvironment

from tests.unit.test_gateway_limits import token
from tollway.activities.discovery import DiscoverInput, DiscoveryActivities
from tollway.market.snapshot import NetworkRefresher
from tollway.market.sources import StaticSource, WebhookSource, collect
from tollway.market.store import KnownOrchestrator, MarketStore
from tollway.protocol.info import CapabilityOffer, OrchestratorInfo
from tollway.protocol.payment import TicketParams
from tollway.protocol.quote import Quote
from tollway.store.database import Database, open_database

Handler = Callable[[httpx.Request], httpx.Response]
GATEWAY = Account.from_key(b"\x07" * 32)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    """The gateway database the market store lives in (SQLite here; tests/store runs the
    store itself on PostgreSQL too)."""
    db = open_database(f"sqlite:///{tmp_path / 'gateway.db'}")
    try:
        yield db
    finally:
        await db.close()


def stand_in_http(handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def errors(source: str, reason: str) -> float:
    labels = {"source": source, "reason": reason}
    return REGISTRY.get_sample_value("tollway_discovery_errors_total", labels) or 0.0


# --- webhook ----------------------------------------------------------------------------------


async def test_webhook_list_is_parsed_cached_and_kept_through_garbage() -> None:
    answers = [
        httpx.Response(
            200,
            json=[
                {"address": "https://o1.example:8935/", "score": 1},
                {"address": "ftp://nope"},
                {"address": "https://o2.example:8935"},
            ],
        ),
        httpx.Response(200, content=b"<html>oops</html>"),
        httpx.Response(200, json={"not": "a list"}),
        httpx.Response(500, text="down"),
        httpx.Response(200, content=b"[" + b'{"address": "https://x.example"},' * 40_000 + b"{}]"),
    ]
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url)
        return answers[len(calls) - 1]

    before = {r: errors("webhook", r) for r in ("bad_url", "malformed", "status", "too_large")}
    async with stand_in_http(handler) as http:
        source = WebhookSource(http, "https://hook.example/orchestrators", ttl_seconds=0)
        good = [entry.url for entry in await source.list()]
        assert good == ["https://o1.example:8935", "https://o2.example:8935"]
        for _ in range(4):  # HTML, wrong shape, a 500, a body over 1 MiB
            assert [entry.url for entry in await source.list()] == good
    assert errors("webhook", "bad_url") == before["bad_url"] + 1
    assert errors("webhook", "malformed") == before["malformed"] + 2
    assert errors("webhook", "status") == before["status"] + 1
    assert errors("webhook", "too_large") == before["too_large"] + 1


async def test_webhook_is_asked_once_per_ttl() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=[{"address": "https://o.example"}])

    async with stand_in_http(handler) as http:
        source = WebhookSource(http, "https://hook.example", ttl_seconds=60)
        await source.list()
        await source.list()
    assert len(calls) == 1


async def test_sources_merge_by_url() -> None:
    async with stand_in_http(
        lambda r: httpx.Response(200, json=[{"address": "https://a.example"}])
    ) as http:
        merged = await collect(
            [
                StaticSource(["https://a.example/", "https://b.example"]),
                WebhookSource(http, "https://hook.example"),
            ]
        )
    assert {url: sorted(e.source for e in entries) for url, entries in merged.items()} == {
        "https://a.example": ["static", "webhook"],
        "https://b.example": ["static"],
    }


# --- orchestrator infos -----------------------------------------------------------------------


def good_info(url: str, price: int = 5) -> dict[str, Any]:
    info = OrchestratorInfo(
        address="0x" + "ab" * 20,
        service_addr=url,
        version="0.1.0",
        capabilities=[CapabilityOffer(name="echo", price_wei=5, capacity=2, available=2)],
    ).model_dump()
    info["capabilities"][0]["price_wei"] = price
    return info


async def test_refresh_keeps_good_infos_and_says_why_the_rest_are_missing(
    database: Database,
) -> None:
    infos: dict[str, httpx.Response] = {
        "good.example": httpx.Response(200, json=good_info("https://good.example")),
        "garbage.example": httpx.Response(200, content=b"\x00\x01not json"),
        "absurd.example": httpx.Response(200, json=good_info("https://absurd.example", 10**40)),
        "livepeer.example": httpx.Response(404, text="404 page not found"),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "dead.example":
            raise httpx.ConnectError("connection refused")
        return infos[request.url.host]

    store = MarketStore(database)
    urls = [f"https://{host}" for host in [*infos, "dead.example"]]
    before = errors("info", "malformed")
    async with stand_in_http(handler) as http:
        known = await NetworkRefresher(http, store, [StaticSource(urls)]).refresh()
    by_url = {k.url: k for k in known}
    assert by_url["https://good.example"].info is not None
    assert "malformed info" in by_url["https://garbage.example"].info_error
    assert "price_wei" in by_url["https://absurd.example"].info_error
    assert "not a tollway orchestrator" in by_url["https://livepeer.example"].info_error
    assert "unreachable" in by_url["https://dead.example"].info_error
    assert errors("info", "malformed") == before + 2
    view = await store.view()
    assert view.breakers["https://dead.example"].openings == 1
    assert "https://garbage.example" not in view.breakers  # answered: not a reason to suspend


async def test_an_orchestrator_that_stops_answering_keeps_its_last_info(
    database: Database,
) -> None:
    """It may be restarting: jobs it could serve wait for it (tests/workflows), so what it
    offers stays known while it is away."""
    up = {"value": True}

    def handler(request: httpx.Request) -> httpx.Response:
        if not up["value"]:
            raise httpx.ConnectError("connection refused")
        return httpx.Response(200, json=good_info("https://restarting.example", 7))

    store = MarketStore(database)
    async with stand_in_http(handler) as http:
        refresher = NetworkRefresher(http, store, [StaticSource(["https://restarting.example"])])
        await refresher.refresh()
        up["value"] = False
        (away,) = await refresher.refresh()
    assert away.info is not None and away.info.capabilities[0].price_wei == 7
    assert "unreachable" in away.info_error and "last info kept" in away.info_error
    assert (await store.view()).breakers["https://restarting.example"].openings == 1


# --- job tokens -------------------------------------------------------------------------------


@pytest.fixture
async def market(database: Database) -> MarketStore:
    store = MarketStore(database)
    hosts = ["good", "garbage", "absurd", "huge", "refused", "slow"]
    await store.replace_snapshot(
        [KnownOrchestrator(f"https://{h}.example", ("static",), None, "no /v1/info") for h in hosts]
    )
    return store


def token_handler(request: httpx.Request) -> httpx.Response:
    host = request.url.host.split(".")[0]
    if host == "refused":
        raise httpx.ConnectError("connection refused")
    if host == "slow":
        raise httpx.ReadTimeout("no answer")
    answer = {
        "good": token(),
        "garbage": "not a token",
        "absurd": token(price={"pricePerUnit": 5, "pixelsPerUnit": 0}),
        "huge": token(padding="x" * 100_000),
    }[host]
    return httpx.Response(200, content=json.dumps(answer).encode())


async def discover(store: MarketStore, handler: Handler, require_quotes: bool = False) -> Any:
    """Run the discover activity over `store`'s snapshot, tokens answered by `handler`."""
    async with stand_in_http(handler) as http:
        activities = DiscoveryActivities(
            http,
            GATEWAY.key,
            GATEWAY.address,
            store,
            NetworkRefresher(http, store, []),
            timeout_seconds=1,
            fanout=10,
            require_quotes=require_quotes,
        )
        return await ActivityEnvironment().run(
            activities.discover, DiscoverInput(capability="echo")
        )


async def test_bad_tokens_are_ignored_with_a_reason_and_count_against_breakers(
    market: MarketStore,
) -> None:
    before = {r: errors("token", r) for r in ("malformed", "too_large", "unreachable", "no_answer")}
    found = await discover(market, token_handler)
    assert [c.url for c in found.candidates] == ["https://good.example"]
    reasons = {a.orchestrator: a.reason for a in found.failures}
    assert "malformed token" in reasons["https://garbage.example"]
    assert (
        "pixelsPerUnit" in reasons["https://absurd.example"]
        or "absurd" in reasons["https://absurd.example"]
    )
    assert "larger than" in reasons["https://huge.example"]
    assert reasons["https://refused.example"].startswith("unreachable")
    assert reasons["https://slow.example"].startswith("no token")
    assert errors("token", "malformed") == before["malformed"] + 2
    assert errors("token", "too_large") == before["too_large"] + 1
    assert errors("token", "unreachable") == before["unreachable"] + 1
    assert errors("token", "no_answer") == before["no_answer"] + 1
    breakers = (await market.view()).breakers
    assert breakers["https://refused.example"].openings == 1  # nothing answered: suspended now
    assert breakers["https://garbage.example"].consecutive_failures == 1
    assert not breakers["https://garbage.example"].is_open(0)


async def test_only_orchestrators_known_to_offer_the_capability_are_worth_waiting_for(
    database: Database,
) -> None:
    """Unreachable, no answer or a 503 is transient (the job asks again later) for one whose
    info offers the capability; never for one whose offers are unknown."""
    store = MarketStore(database)
    offering = [
        KnownOrchestrator(
            f"https://{h}.example", ("static",), OrchestratorInfo.model_validate(good_info(h))
        )
        for h in ("restarting", "stalled", "busy", "broken")
    ]
    unknown = KnownOrchestrator("https://unknown.example", ("static",), None, "no /v1/info")
    await store.replace_snapshot([*offering, unknown])

    def handler(request: httpx.Request) -> httpx.Response:
        host = request.url.host.split(".")[0]
        if host in ("restarting", "unknown"):
            raise httpx.ConnectError("connection refused")
        if host == "stalled":
            raise httpx.ReadTimeout("no answer")
        return httpx.Response(503 if host == "busy" else 500, json={"error": {"type": "X"}})

    found = await discover(store, handler)
    transient = {a.orchestrator.split("//")[1].split(".")[0]: a.transient for a in found.failures}
    assert transient == {
        "restarting": True,
        "stalled": True,
        "busy": True,
        "broken": False,
        "unknown": False,
    }


# --- signed quotes in tokens ------------------------------------------------------------------

SELLER = Account.from_key(b"\x09" * 32)


def quoted_token(expires_in: int = 60, signer: bytes = SELLER.key, unit: str = "second") -> Any:
    raw = token()
    params = TicketParams.from_json(raw["ticket_params"])
    raw["ticket_params"] = params.model_copy(update={"recipient": SELLER.address}).to_json()
    raw["quote"] = (
        Quote(
            capability="echo",
            price_wei=raw["price"]["pricePerUnit"],
            unit=unit,
            gateway=GATEWAY.address,
            orchestrator=SELLER.address,
            expires_at=int(time.time()) + expires_in,
        )
        .signed_by(signer)
        .model_dump()
    )
    return raw


async def discover_with(
    database: Database, tokens: dict[str, Any], require_quotes: bool = False
) -> Any:
    store = MarketStore(database)
    await store.replace_snapshot(
        [KnownOrchestrator(f"https://{h}.example", ("static",), None, "") for h in tokens]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=tokens[request.url.host.split(".")[0]])

    return await discover(store, handler, require_quotes)


async def test_expired_and_forged_quotes_are_refused_and_counted(database: Database) -> None:
    before = {r: errors("token", r) for r in ("quote_expired", "bad_quote")}
    found = await discover_with(
        database,
        {
            "fresh": quoted_token(unit="request"),
            "stale": quoted_token(expires_in=-30),
            "forged": quoted_token(signer=b"\x0a" * 32),
        },
    )
    assert [(c.url, c.unit) for c in found.candidates] == [("https://fresh.example", "request")]
    reasons = {a.orchestrator: a.reason for a in found.failures}
    assert reasons["https://stale.example"].startswith("quote expired")
    assert "signed by" in reasons["https://forged.example"]
    assert errors("token", "quote_expired") == before["quote_expired"] + 1
    assert errors("token", "bad_quote") == before["bad_quote"] + 1


async def test_a_gateway_may_require_signed_quotes(database: Database) -> None:
    found = await discover_with(
        database, {"quoted": quoted_token(), "plain": token()}, require_quotes=True
    )
    assert [c.url for c in found.candidates] == ["https://quoted.example"]
    assert {a.orchestrator: a.reason for a in found.failures}["https://plain.example"] == (
        "no signed price quote"
    )


async def test_a_capability_registered_after_the_snapshot_is_found_on_first_miss(
    database: Database,
) -> None:
    """The snapshot predates the registration; the first job's miss refreshes it."""
    registered = False

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/info":
            info = good_info("https://late.example")
            info["capabilities"] = info["capabilities"] if registered else []
            return httpx.Response(200, json=info)
        return httpx.Response(200, json=token())

    store = MarketStore(database)
    async with stand_in_http(handler) as http:
        refresher = NetworkRefresher(http, store, [StaticSource(["https://late.example"])])
        await refresher.refresh()
        registered = True
        activities = DiscoveryActivities(
            http, GATEWAY.key, GATEWAY.address, store, refresher, timeout_seconds=1
        )
        found = await ActivityEnvironment().run(
            activities.discover, DiscoverInput(capability="echo")
        )
    assert [c.url for c in found.candidates] == ["https://late.example"]
