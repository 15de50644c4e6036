"""Selection cost per job over synthetic markets, then job latency and success rate on the
faulty market of tests/e2e/market.py (real processes: Temporal, anvil, five orchestrators).

    .venv/bin/python -m bench.selection [--jobs 200] [--concurrency 8] [--synthetic-only]

(run from the repo root: it brings up the market of tests/e2e/market.py)
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from rich.console import Console

from tests.e2e.market import FAULTY_MARKET, GWEI, bring_up_market
from tollway.market.breaker import Breaker
from tollway.market.selection import POLICIES, SelectionRequest, select
from tollway.market.store import KnownOrchestrator, MarketView, Performance
from tollway.protocol.info import CapabilityOffer, Gpu, OrchestratorInfo


def synthetic_market(size: int, rng: random.Random) -> MarketView:
    """`size` orchestrators, each offering 3 of 10 capabilities at random prices; a tenth never
    measured, a twentieth suspended."""
    orchestrators, performance, breakers = [], {}, {}
    for i in range(size):
        url = f"https://o{i}.example:8935"
        names = rng.sample([f"cap-{k}" for k in range(10)], 3)
        offers = [
            CapabilityOffer(
                name=name,
                price_wei=rng.randint(500, 5_000) * GWEI,
                capacity=4,
                available=rng.randint(0, 4),
            )
            for name in names
        ]
        info = OrchestratorInfo(
            address="0x" + f"{i:040x}",
            service_addr=url,
            version="0.1.0",
            hardware=[Gpu(model="NVIDIA L4", vram_bytes=24 * 2**30)],
            capabilities=offers,
        )
        orchestrators.append(KnownOrchestrator(url, ("chain",), info, stake=rng.randint(1, 10**6)))
        if i % 10:
            for name in names:
                performance[(url, name)] = Performance(
                    latency_ms=rng.uniform(20, 800), success=rng.uniform(0.5, 1.0), jobs=50
                )
        if i % 20 == 0:
            breakers[url] = Breaker(3, 1, time.time() + 60, "answered 500")
    return MarketView(orchestrators, performance, breakers, time.time())


def bench_selection() -> None:
    rng = random.Random(1)
    print("selection cost per job (filter, score and draw 4 of the market; one core)")
    for size in (100, 1_000):
        view = synthetic_market(size, rng)
        request = SelectionRequest(
            capability="cap-3", policy=POLICIES["balanced"], price_caps={"second": 4_000 * GWEI}
        )
        runs = 2_000 if size == 100 else 500
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            select(view, request, rng, time.time())
            timings.append(time.perf_counter() - started)
        timings.sort()
        print(
            f"  {size:>5} orchestrators: p50 {statistics.median(timings) * 1e3:.3f} ms, "
            f"p95 {timings[int(0.95 * runs)] * 1e3:.3f} ms per job"
        )


def bench_faulty_market(jobs: int, concurrency: int) -> None:
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory() as directory:
        market = bring_up_market(
            Path(directory), FAULTY_MARKET, console, network_refresh_seconds=5.0
        )
        try:
            name_of = {url: name for name, url in market.urls.items()}
            headers = {"Authorization": f"Bearer {market.api_key}"}
            with httpx.Client(base_url=market.gateway_url, headers=headers, timeout=60) as http:

                def one(n: int) -> tuple[float, str, str]:
                    started = time.perf_counter()
                    job = http.post(
                        "/v1/jobs",
                        json={
                            "capability": "echo",
                            "input": {"n": n},
                            "max_price_wei_per_second": 2_000 * GWEI,
                        },
                    ).json()["job_id"]
                    while True:
                        status = http.get(f"/v1/jobs/{job}").json()
                        if status["state"] in ("succeeded", "rejected", "failed"):
                            served = name_of.get(status["orchestrator"] or "", "-")
                            return time.perf_counter() - started, status["state"], served
                        time.sleep(0.005)

                with ThreadPoolExecutor(concurrency) as pool:
                    results = list(pool.map(one, range(jobs)))
        finally:
            market.stop()
    latencies = sorted(r[0] for r in results)
    succeeded = sum(r[1] == "succeeded" for r in results)
    print(f"faulty market: {jobs} jobs, {concurrency} at a time, through /v1/jobs")
    p50, p95 = statistics.median(latencies), latencies[int(0.95 * jobs)]
    print(
        f"  success {succeeded / jobs:.1%}, latency p50 {p50 * 1e3:.0f} ms, p95 {p95 * 1e3:.0f} ms"
    )
    print(f"  served by: {dict(Counter(r[2] for r in results).most_common())}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--synthetic-only", action="store_true")
    args = parser.parse_args()
    bench_selection()
    if not args.synthetic_only:
        bench_faulty_market(args.jobs, args.concurrency)


if __name__ == "__main__":
    main()
