"""Discovery input from outside is ignored with a logged reason and a metric, never a crash:
webhook answers, orchestrator infos and job tokens. HTTP here goes to stand-in handlers
(httpx.MockTransport); the real processes are in tests/e2e/test_marketplace.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from prometheus_client import REGISTRY
from temporalio.testing import ActivityEnvironment

from tests.unit.test_gateway_limits import token
from tollway.activities.discovery import DiscoveryActivities
from tollway.market.info import CapabilityOffer, OrchestratorInfo
from tollway.market.snapshot import NetworkRefresher
from tollway.market.sources import StaticSource, WebhookSource, collect
from tollway.market.store import KnownOrchestrator, MarketStore
from tollway.models import DiscoverInput

Handler = Callable[[httpx.Request], httpx.Response]
GATEWAY = Account.from_key(b"\x07" * 32)


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
    tmp_path: Path,
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

    store = MarketStore(tmp_path / "market.sqlite")
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
    view = store.view()
    assert view.breakers["https://dead.example"].openings == 1
    assert "https://garbage.example" not in view.breakers  # answered: not a reason to suspend


# --- job tokens -------------------------------------------------------------------------------


@pytest.fixture
def market(tmp_path: Path) -> MarketStore:
    store = MarketStore(tmp_path / "market.sqlite")
    hosts = ["good", "garbage", "absurd", "huge", "refused", "slow"]
    store.replace_snapshot(
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


async def test_bad_tokens_are_ignored_with_a_reason_and_count_against_breakers(
    market: MarketStore,
) -> None:
    before = {r: errors("token", r) for r in ("malformed", "too_large", "unreachable", "no_answer")}
    async with stand_in_http(token_handler) as http:
        activities = DiscoveryActivities(
            http,
            GATEWAY.key,
            GATEWAY.address,
            market,
            NetworkRefresher(http, market, []),
            timeout_seconds=1,
            fanout=10,
        )
        found = await ActivityEnvironment().run(
            activities.discover, DiscoverInput(capability="echo")
        )
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
    breakers = market.view().breakers
    assert breakers["https://refused.example"].openings == 1  # nothing answered: suspended now
    assert breakers["https://garbage.example"].consecutive_failures == 1
    assert not breakers["https://garbage.example"].is_open(0)
