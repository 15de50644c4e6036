"""A live stream survives the SIGKILL of the orchestrator serving it: on a market of two
orchestrators each serving `stream-echo`, a client streams a segment every 0.2 s through the
gateway; the serving orchestrator's API is killed mid-stream, and the output resumes from the
other orchestrator within 5 s, with every segment, in order, on the same URLs (the newest one
the killed orchestrator had may come twice: the new one starts from it)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import time
from collections.abc import Iterator
from itertools import pairwise

import httpx
import pytest
from pytrickle.publisher import TricklePublisher
from pytrickle.subscriber import TrickleSubscriber

from tests.e2e.market import GWEI, STREAM_CAPABILITY, RunningMarket, Seller, market_running
from tests.e2e.test_trickle import from_ts, read_segment, ts

SELLERS = [Seller("one", 1_000 * GWEI, streams=True), Seller("two", 1_000 * GWEI, streams=True)]
EVERY_SECONDS = 0.2
BEFORE_KILL = 10
AFTER_RESUME = 10
MOST_GAP_SECONDS = 5.0


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMarket]:
    with market_running(
        tmp_path_factory.mktemp("stream-market"), SELLERS, network_refresh_seconds=5.0
    ) as running:
        yield running


async def test_a_stream_moves_on_when_its_orchestrator_is_killed(market: RunningMarket) -> None:
    header = base64.b64encode(
        json.dumps({"capability": STREAM_CAPABILITY, "timeout_seconds": 30}).encode()
    ).decode()
    async with httpx.AsyncClient(base_url=market.gateway_url, timeout=30) as http:
        started = await http.post(
            "/process/stream/start", headers={"Livepeer": header}, json={"params": "{}"}
        )
        assert started.status_code == 200, started.text
        urls = started.json()
        arrivals: list[tuple[float, bytes]] = []
        stop_publishing = asyncio.Event()

        async def publish_forever() -> None:
            async with TricklePublisher(urls["publish_url"], "video/MP2T") as publisher:
                n = 0
                while not stop_publishing.is_set():
                    async with await publisher.next() as writer:
                        await writer.write(ts(b"segment %05d" % n))
                    n += 1
                    await asyncio.sleep(EVERY_SECONDS)

        async def read_until(count: int) -> None:
            async with TrickleSubscriber(urls["subscribe_url"], start_seq=0) as subscriber:
                while len(arrivals) < count:
                    segment = await asyncio.wait_for(subscriber.next(), 30)
                    assert segment is not None
                    arrivals.append((time.monotonic(), from_ts(await read_segment(segment))))

        publishing = asyncio.create_task(publish_forever())
        reading = asyncio.create_task(read_until(BEFORE_KILL + AFTER_RESUME))
        while len(arrivals) < BEFORE_KILL:
            await asyncio.sleep(0.05)
        serving = (await http.get(urls["status_url"])).json()["orchestrator"]
        name = next(n for n, url in market.urls.items() if url == serving)
        killed_at = time.monotonic()
        os.kill(market.launcher.records[f"orchestrator-{name}"].pid, signal.SIGKILL)
        await asyncio.wait_for(reading, 60)
        stop_publishing.set()
        await publishing

        status = (await http.get(urls["status_url"])).json()
        assert status["state"] == "running" and status["swaps"] == 1, status
        assert status["orchestrator"] not in (None, serving)
        # The output's gap: the longest wait between two segments once the kill happened.
        times = [t for t, _ in arrivals]
        gap = max(later - before for before, later in pairwise(times) if later > killed_at)
        print(f"\noutput gap across the swap: {gap:.2f} s (a segment every {EVERY_SECONDS} s)")
        assert gap <= MOST_GAP_SECONDS, gap
        # Nothing is lost across the swap: the segments come back in order, the newest one
        # the old orchestrator had at most repeated by the new one (it starts from there).
        numbers = [int(data.split()[1]) for _, data in arrivals]
        once = [n for i, n in enumerate(numbers) if i == 0 or n != numbers[i - 1]]
        assert once == list(range(len(once))), numbers
        assert len(numbers) - len(once) <= 1, numbers
        assert all(data == data.upper() for _, data in arrivals)
        stopped = await http.post(urls["stop_url"])
        assert stopped.status_code == 200 and stopped.json()["state"] == "stopped"
