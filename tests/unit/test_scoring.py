"""Selection over a synthetic market: filters with reasons, the score's parts, and the
weighted random order (seeded, so every figure here is reproducible)."""

from __future__ import annotations

import random
from collections import Counter

from tollway.config import SelectionPolicy
from tollway.market.breaker import Breaker
from tollway.market.selection import POLICIES, SelectionRequest, select
from tollway.market.store import KnownOrchestrator, MarketView, Performance
from tollway.protocol.info import CapabilityOffer, OrchestratorInfo

NOW = 1_000.0


def known(
    url: str, price: int | None = 100, version: str = "1.2.0", stake: int | None = None
) -> KnownOrchestrator:
    if price is None:
        return KnownOrchestrator(url, ("static",), None, "no /v1/info")
    offer = CapabilityOffer(name="echo", price_wei=price, capacity=4, available=4)
    info = OrchestratorInfo(
        address="0x" + "cd" * 20, service_addr=url, version=version, capabilities=[offer]
    )
    return KnownOrchestrator(url, ("static",), info, stake=stake)


def request(policy: SelectionPolicy = "balanced", **fields: object) -> SelectionRequest:
    return SelectionRequest(capability="echo", policy=POLICIES[policy], **fields)  # type: ignore[arg-type]


def first_choices(view: MarketView, req: SelectionRequest, draws: int = 2_000) -> Counter[str]:
    rng = random.Random(7)
    return Counter(select(view, req, rng, NOW).ranked[0].url for _ in range(draws))


def test_filters_say_why() -> None:
    other = KnownOrchestrator(
        "http://other",
        ("static",),
        OrchestratorInfo(
            address="0x" + "ee" * 20,
            service_addr="http://other",
            version="1.2.0",
            capabilities=[CapabilityOffer(name="llm", price_wei=1, capacity=1, available=1)],
        ),
    )
    view = MarketView(
        orchestrators=[
            known("http://ok"),
            known("http://dear", price=1_000),
            known("http://old", version="0.9.9"),
            known("http://down"),
            known("http://excluded"),
            known("http://plain-livepeer", price=None),
            other,
        ],
        breakers={"http://down": Breaker(1, 1, NOW + 30, "unreachable: refused")},
    )
    selection = select(
        view,
        request(
            price_caps={"second": 500}, min_version="1.0", exclude=frozenset({"http://excluded"})
        ),
        random.Random(1),
        NOW,
    )
    reasons = {a.orchestrator: a.reason for a in selection.refused}
    assert "above the job's cap 500" in reasons["http://dear"]
    assert "version 0.9.9 below the minimum 1.0" in reasons["http://old"]
    assert reasons["http://down"].startswith("suspended for 30 s")
    assert "unreachable: refused" in reasons["http://down"]
    assert selection.not_offering == 1  # counted, not listed: it was never asked
    assert all(a.orchestrator.startswith("http://") for a in selection.refused)
    assert "http://excluded" not in reasons
    assert "version unknown below the minimum" in reasons["http://plain-livepeer"]
    assert [c.url for c in selection.ranked] == ["http://ok"]
    assert selection.eligible == 1


def test_a_node_without_info_is_still_asked_for_a_token() -> None:
    """A plain go-livepeer node has no /v1/info: its token tells price and capacity."""
    view = MarketView(orchestrators=[known("http://tollway"), known("http://plain", price=None)])
    selection = select(view, request(), random.Random(1), NOW)
    assert {c.url for c in selection.ranked} == {"http://tollway", "http://plain"}
    assert next(c for c in selection.ranked if c.url == "http://plain").price_wei is None


def test_a_breaker_past_its_cool_down_lets_the_orchestrator_back_for_a_trial() -> None:
    view = MarketView(
        orchestrators=[known("http://back")],
        breakers={"http://back": Breaker(1, 1, NOW - 1, "refused")},
    )
    assert [c.url for c in select(view, request(), random.Random(1), NOW).ranked] == ["http://back"]


def test_include_list_limits_the_draw_and_fanout_limits_the_list() -> None:
    view = MarketView(orchestrators=[known(f"http://o{i}") for i in range(10)])
    only = select(view, request(include=frozenset({"http://o3"})), random.Random(1), NOW)
    assert [c.url for c in only.ranked] == ["http://o3"]
    some = select(view, request(fanout=3), random.Random(1), NOW)
    assert len(some.ranked) == 3
    assert len({c.url for c in some.ranked}) == 3


def test_cheaper_wins_more_often_under_cheapest_and_still_not_always() -> None:
    view = MarketView(orchestrators=[known("http://cheap", 100), known("http://dear", 300)])
    shares = first_choices(view, request("cheapest"))
    assert shares["http://cheap"] > 2 * shares["http://dear"]
    assert shares["http://dear"] > 0  # weighted randomness: work does not pile onto one


def test_fastest_prefers_low_observed_latency_over_price() -> None:
    view = MarketView(
        orchestrators=[known("http://fast", 300), known("http://slow", 100)],
        performance={
            ("http://fast", "echo"): Performance(latency_ms=50, success=1.0, jobs=20),
            ("http://slow", "echo"): Performance(latency_ms=800, success=1.0, jobs=20),
        },
    )
    assert first_choices(view, request("fastest")).most_common(1)[0][0] == "http://fast"
    assert first_choices(view, request("cheapest")).most_common(1)[0][0] == "http://slow"


def test_a_flaky_orchestrator_loses_most_of_its_share() -> None:
    view = MarketView(
        orchestrators=[known("http://steady"), known("http://flaky")],
        performance={
            ("http://steady", "echo"): Performance(latency_ms=100, success=0.98, jobs=50),
            ("http://flaky", "echo"): Performance(latency_ms=100, success=0.5, jobs=50),
        },
    )
    shares = first_choices(view, request())
    assert shares["http://steady"] > 9 * shares["http://flaky"]


def test_stake_counts_when_known() -> None:
    view = MarketView(
        orchestrators=[known("http://big", stake=1_000), known("http://small", stake=10)]
    )
    ranked = select(view, request(), random.Random(1), NOW).ranked
    scores = {c.url: c.score for c in ranked}
    assert scores["http://big"] > scores["http://small"]


def test_scores_are_in_range_and_the_draw_is_reproducible() -> None:
    view = MarketView(orchestrators=[known(f"http://o{i}", 10 + i) for i in range(50)])
    a = select(view, request(fanout=10), random.Random(3), NOW)
    b = select(view, request(fanout=10), random.Random(3), NOW)
    assert [c.url for c in a.ranked] == [c.url for c in b.ranked]
    assert all(0 < c.score <= 1 for c in a.ranked)


def test_suspended_orchestrators_are_asked_only_when_nobody_else_is_left() -> None:
    down = {"http://down": Breaker(1, 1, NOW + 30, "unreachable")}
    with_healthy = MarketView(
        orchestrators=[known("http://down"), known("http://up")], breakers=down
    )
    ranked = select(with_healthy, request(), random.Random(1), NOW).ranked
    assert [c.url for c in ranked] == ["http://up"]

    alone = MarketView(orchestrators=[known("http://down")], breakers=down)
    selection = select(alone, request(), random.Random(1), NOW)
    assert [c.url for c in selection.ranked] == ["http://down"]
    assert selection.suspended_only
    assert selection.refused == []  # it is asked: what it answers is the attempt
