"""A gateway API restart does not end a stream: the gateway API holding a stream's channels is
SIGKILLed mid-stream and started again; the stream's relay starts again on it from its last
heartbeat, and a client that reconnects (retrying what failed while the API was down) goes on
with the same URLs and segment numbers: nothing arrives twice, and nothing is lost but, at
most, the segment in flight at the kill."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import httpx
import pytest

from tests.e2e.conftest import STREAM_CAPABILITY
from tests.e2e.stack_client import StackClient
from tests.e2e.test_trickle import from_ts, ts

pytestmark = pytest.mark.e2e

EVERY_SECONDS = 0.2
BEFORE_KILL = 10
AFTER_RESTART = 10


async def test_a_stream_goes_on_when_its_gateway_api_restarts(
    stack: StackClient, stream_worker: str
) -> None:
    gateway = stack.state.endpoints.gateway_api
    job = {"capability": STREAM_CAPABILITY, "timeout_seconds": 30}
    header = base64.b64encode(json.dumps(job).encode()).decode()
    async with httpx.AsyncClient(timeout=10) as http:
        started = await http.post(
            f"{gateway}/process/stream/start", headers={"Livepeer": header}, json={}
        )
        assert started.status_code == 200, started.text
        urls = started.json()
        received: list[tuple[float, int]] = []
        done = asyncio.Event()

        async def publish() -> None:
            n = 0
            while not done.is_set():
                try:
                    body = ts(b"segment %05d" % n)
                    answer = await http.post(f"{urls['publish_url']}/{n}", content=body)
                    if answer.status_code == 200:
                        n += 1
                except httpx.HTTPError:
                    pass  # the gateway API is down: send it again
                await asyncio.sleep(EVERY_SECONDS)

        async def subscribe() -> None:
            seq = 0
            while len(received) < BEFORE_KILL + AFTER_RESTART:
                try:
                    answer = await http.get(f"{urls['subscribe_url']}/{seq}", timeout=30)
                except httpx.HTTPError:
                    await asyncio.sleep(EVERY_SECONDS)
                    continue
                if answer.status_code == 200:
                    number = int(from_ts(answer.content).split()[1])
                    received.append((time.monotonic(), number))
                    seq += 1
                else:  # 404 until the relay made the channels again, 470 while it catches up
                    await asyncio.sleep(EVERY_SECONDS)

        publishing = asyncio.create_task(publish())
        subscribing = asyncio.create_task(subscribe())
        while len(received) < BEFORE_KILL:
            await asyncio.sleep(0.05)
        killed_at = time.monotonic()
        await asyncio.to_thread(stack.restart, "gateway-api")
        await asyncio.wait_for(subscribing, 90)
        done.set()
        await publishing
        status = (await http.get(urls["status_url"])).json()
        stopped = await http.post(urls["stop_url"])
        assert stopped.status_code == 200 and stopped.json()["state"] == "stopped", stopped.text

    numbers = [n for _, n in received]
    resumed = next(t for t, _ in received if t > killed_at)
    print(f"\nsegments {numbers}; output resumed {resumed - killed_at:.1f} s after the kill")
    assert status["state"] == "running" and status["swaps"] == 0, status
    assert numbers == sorted(set(numbers)), numbers  # in order, none twice
    missing = set(range(numbers[0], numbers[-1] + 1)) - set(numbers)
    assert len(missing) <= 1, missing
