"""The marketplace on a messy market: five orchestrators found through the chain (different
prices, one slow, one failing half its jobs, one dead, one above the price cap) and 200 jobs
through the durable API, eight at a time."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.e2e.market import FAULTY_MARKET as SELLERS
from tests.e2e.market import GWEI, RunningMarket, market_running

PRICES = {s.name: s.price_wei_per_second for s in SELLERS}
JOBS = 200
CAPS = (2_000 * GWEI, 1_200 * GWEI)
"""Even jobs may pay up to 2,000 gwei/s (not `pricey`), odd ones 1,200 (only `cheap`, `flaky`)."""


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMarket]:
    with market_running(
        tmp_path_factory.mktemp("market"), SELLERS, network_refresh_seconds=5.0
    ) as running:
        yield running


def run_job(http: httpx.Client, n: int) -> dict[str, Any]:
    cap = CAPS[n % 2]
    answer = http.post(
        "/v1/jobs",
        json={"capability": "echo", "input": {"n": n}, "max_price_wei_per_second": cap},
    )
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["job_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status: dict[str, Any] = http.get(f"/v1/jobs/{job_id}").json()
        if status["state"] in ("succeeded", "rejected", "failed"):
            status["cap"] = cap
            return status
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} still running after 60 s")


def test_two_hundred_jobs_on_a_messy_market(market: RunningMarket) -> None:
    name_of = {url: name for name, url in market.urls.items()}
    headers = {"Authorization": f"Bearer {market.api_key}"}
    with (
        httpx.Client(base_url=market.gateway_url, headers=headers, timeout=30) as http,
        ThreadPoolExecutor(8) as pool,
    ):
        statuses = list(pool.map(lambda n: run_job(http, n), range(JOBS)))
        view = http.get("/v1/marketplace").json()
        unhappy = [
            (s["state"], s["error"], s["attempts"], http.get(f"/v1/jobs/{s['job_id']}/output").text)
            for s in statuses
            if s["state"] != "succeeded"
        ]

    succeeded = [s for s in statuses if s["state"] == "succeeded"]
    assert len(succeeded) >= 0.99 * JOBS, unhappy[:5]
    for status in statuses:  # every job completes or fails with a reason
        assert status["state"] == "succeeded" or (status["error"] and status["attempts"]), unhappy

    served = Counter(name_of[s["orchestrator"]] for s in succeeded)
    for status in succeeded:  # nobody is paid above the job's cap
        assert PRICES[name_of[status["orchestrator"]]] <= status["cap"]
    assert served["pricey"] == served["dead"] == 0
    assert all(name_of[s["orchestrator"]] in ("cheap", "flaky") for s in succeeded[1::2])

    # The dead orchestrator failed the first snapshot refresh; its breaker keeps it from being
    # asked again except for a trial after each (doubling) cool-down.
    dead_asked = sum(
        a["orchestrator"] == market.urls["dead"] and a["stage"] == "discover"
        for s in statuses
        for a in s["attempts"]
    )
    assert dead_asked <= 5, dead_asked

    # Traffic follows the score: the cheap, steady orchestrator serves the most; the one that
    # fails half its jobs ends with a low success rate and a small share.
    offers = {o["orchestrator"]: o for o in view["capabilities"]["echo"]["offers"]}
    rate = {name: offers[url]["success_rate"] for name, url in market.urls.items() if url in offers}
    latency = {
        name: offers[url]["latency_ms"] for name, url in market.urls.items() if url in offers
    }
    assert served["cheap"] == max(served.values()), served
    assert served["cheap"] > 2 * served["flaky"], served
    assert rate["flaky"] < 0.8 < rate["cheap"], rate
    assert latency["slow"] > latency["cheap"] + 300, latency
    assert served["slow"] < served["cheap"], served
