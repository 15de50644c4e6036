"""A live stream through the gateway, as a go-livepeer client starts one: `POST
/process/stream/start` starts a StreamWorkflow that pays and starts the stream on the
orchestrator, and the gateway relays the client's trickle channels to it; the client's segments
come back processed by the stream worker, and a stop ends the stream everywhere. A container
that sends no event is swapped out (and with no orchestrator left the stream fails, saying
why); a client that goes away has its stream stopped."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import httpx
from pytrickle.publisher import TricklePublisher
from pytrickle.subscriber import TrickleSubscriber

from tests.e2e.conftest import (
    STREAM_CAPABILITY,
    STREAM_CAPACITY,
    STREAM_CLIENT_IDLE_SECONDS,
    STREAM_EVENT_SILENCE_SECONDS,
    STREAM_PAYMENT_SECONDS,
)
from tests.e2e.stack_client import StackClient, metric_sample
from tests.e2e.test_trickle import from_ts, publish, read_segment, ts

MARKET_WAIT_SECONDS = 60
"""The gateway's market view lists a newly registered capability at its next refresh."""


def offered(stack: StackClient, capability: str) -> bool:
    view = httpx.get(f"{stack.state.endpoints.gateway_api}/v1/marketplace", timeout=5).json()
    return bool(view["capabilities"].get(capability, {}).get("offers"))


async def start(http: httpx.AsyncClient, params: dict[str, object]) -> dict[str, str]:
    job = {"capability": STREAM_CAPABILITY, "timeout_seconds": 30}
    header = base64.b64encode(json.dumps(job).encode()).decode()
    started = await http.post(
        "/process/stream/start", headers={"Livepeer": header}, json={"params": json.dumps(params)}
    )
    assert started.status_code == 200, started.text
    urls: dict[str, str] = started.json()
    return urls


async def wait_state(http: httpx.AsyncClient, url: str, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        status: dict[str, Any] = (await http.get(url)).json()
        if status["state"] == state:
            return status
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.25)


async def test_a_stream_through_the_gateway_flows_and_stops(
    stack: StackClient, stream_worker: str
) -> None:
    deadline = time.monotonic() + MARKET_WAIT_SECONDS
    while not offered(stack, STREAM_CAPABILITY):
        assert time.monotonic() < deadline, "the gateway never saw the stream capability"
        await asyncio.sleep(0.5)
    header = base64.b64encode(
        json.dumps({"capability": STREAM_CAPABILITY, "timeout_seconds": 30}).encode()
    ).decode()
    gateway = stack.state.endpoints.gateway_api
    sent_in, sent_out = (f'tollway_stream_segments_total{{direction="{d}"}}' for d in ("in", "out"))
    segments_in, segments_out = metric_sample(gateway, sent_in), metric_sample(gateway, sent_out)
    delays = metric_sample(gateway, "tollway_stream_relay_delay_seconds_count")
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as http:
        started = await http.post(
            "/process/stream/start",
            headers={"Livepeer": header},
            json={"stream_name": "camera", "params": json.dumps({"strength": 1})},
        )
        assert started.status_code == 200, started.text
        urls = started.json()
        stream_id = urls["stream_id"]
        assert stream_id.startswith("camera-")
        assert urls["publish_url"].startswith(stack.state.endpoints.gateway_api)

        async with (
            TricklePublisher(urls["publish_url"], "video/MP2T") as video_in,
            TrickleSubscriber(urls["subscribe_url"], start_seq=0) as video_out,
        ):
            for n in range(3):
                await publish(video_in, [ts(b"frame group %d" % n)])
                segment = await asyncio.wait_for(video_out.next(), 20)
                assert segment is not None and segment.seq() == n
                assert from_ts(await read_segment(segment)) == b"FRAME GROUP %d" % n

        status = (await http.get(f"/process/stream/{stream_id}/status")).json()
        assert status["state"] == "running"
        assert metric_sample(gateway, "tollway_gateway_streams_relayed") >= 1
        assert (
            metric_sample(gateway, 'tollway_stream_segments_total{direction="in"}')
            >= segments_in + 3
        )
        assert (
            metric_sample(gateway, 'tollway_stream_segments_total{direction="out"}')
            >= segments_out + 3
        )
        assert metric_sample(gateway, "tollway_stream_relay_delay_seconds_count") >= delays + 3
        assert status["orchestrator"] == stack.state.endpoints.orchestrator_api
        assert int(stack.token(STREAM_CAPABILITY)["available_capacity"]) == STREAM_CAPACITY - 1

        # Its start was paid (by tickets, or by credit an earlier stream left); that credit
        # covers the rest of this short stream, so the payments on its interval
        # (tests/workflows/test_stream_workflow.py) send no tickets.
        assert status["payments"] == 1
        await asyncio.sleep(2 * STREAM_PAYMENT_SECONDS)
        later = (await http.get(f"/process/stream/{stream_id}/status")).json()
        assert later["state"] == "running" and later["payments"] == 1, later

        updated = await http.post(f"/process/stream/{stream_id}/update", json={"strength": 2})
        assert updated.status_code == 200, updated.text
        seen = httpx.get(f"{stream_worker}/stream/status").json()["params"][stream_id]
        assert seen == [{"strength": 1}, {"strength": 2}]

        stopped = await http.post(f"/process/stream/{stream_id}/stop")
        assert stopped.status_code == 200 and stopped.json()["state"] == "stopped", stopped.text
        again = await http.post(f"/process/stream/{stream_id}/stop")
        assert again.status_code == 200 and again.json()["state"] == "stopped"
        assert (await http.get(f"{urls['publish_url']}/next")).status_code == 404
        late = await http.post(f"/process/stream/{stream_id}/update", json={"strength": 3})
        assert late.status_code == 409 and late.json()["code"] == "StreamStopped"
        unknown = await http.get("/process/stream/never-started/status")
        assert unknown.status_code == 404
        bad = await http.post(f"/process/stream/{stream_id}/update", content=b"[1, 2]")
        assert bad.status_code == 400
    assert int(stack.token(STREAM_CAPABILITY)["available_capacity"]) == STREAM_CAPACITY
    worker = httpx.get(f"{stream_worker}/stream/status").json()
    assert stream_id in worker["stopped"]


async def test_a_silent_container_is_swapped_out_and_with_none_left_the_stream_fails(
    stack: StackClient, stream_worker: str
) -> None:
    silent_swaps = 'tollway_stream_swaps_total{reason="container_silent"}'
    swaps_before = metric_sample(stack.state.endpoints.gateway_api, silent_swaps)
    async with httpx.AsyncClient(base_url=stack.state.endpoints.gateway_api, timeout=60) as http:
        urls = await start(http, {"silent": True})
        began = time.monotonic()

        async def keep_publishing() -> None:  # the client stays: only the container is silent
            async with TricklePublisher(urls["publish_url"], "video/MP2T") as video_in:
                for n in range(60):
                    await publish(video_in, [ts(b"segment %d" % n)])
                    await asyncio.sleep(1)

        publishing = asyncio.create_task(keep_publishing())
        try:
            status = await wait_state(http, urls["status_url"], "failed")
        finally:
            publishing.cancel()
        took = time.monotonic() - began
    silence = f"no event from the container for {STREAM_EVENT_SILENCE_SECONDS:g} s"
    reasons = [a["reason"] for a in status["attempts"] if a["stage"] == "stream"]
    assert len(reasons) == 1 and silence in reasons[0], status
    assert "no orchestrator left" in str(status["error"]), status
    assert metric_sample(stack.state.endpoints.gateway_api, silent_swaps) == swaps_before + 1
    assert STREAM_EVENT_SILENCE_SECONDS <= took <= STREAM_EVENT_SILENCE_SECONDS + 10, took
    # Stopped on the orchestrator before the stream moved on: its slot is free again.
    assert int(stack.token(STREAM_CAPABILITY)["available_capacity"]) == STREAM_CAPACITY
    assert urls["stream_id"] in httpx.get(f"{stream_worker}/stream/status").json()["stopped"]


async def test_a_stream_whose_client_goes_away_is_stopped(
    stack: StackClient, stream_worker: str
) -> None:
    async with httpx.AsyncClient(base_url=stack.state.endpoints.gateway_api, timeout=60) as http:
        urls = await start(http, {})
        async with TricklePublisher(urls["publish_url"], "video/MP2T") as video_in:
            await publish(video_in, [ts(b"the only segment")])
        went_quiet = time.monotonic()
        status = await wait_state(http, urls["status_url"], "stopped")
        took = time.monotonic() - went_quiet
    assert status["ended"] == f"the client sent nothing for {STREAM_CLIENT_IDLE_SECONDS:g} s"
    assert status["swaps"] == 0 and status["error"] is None, status
    assert STREAM_CLIENT_IDLE_SECONDS - 1 <= took <= STREAM_CLIENT_IDLE_SECONDS + 5, took
    assert int(stack.token(STREAM_CAPABILITY)["available_capacity"]) == STREAM_CAPACITY


async def test_a_streams_data_output_arrives_as_server_sent_events(
    stack: StackClient, stream_worker: str
) -> None:
    job = {"capability": STREAM_CAPABILITY, "timeout_seconds": 30}
    job["parameters"] = json.dumps({"enable_data_output": True})
    header = base64.b64encode(json.dumps(job).encode()).decode()
    async with httpx.AsyncClient(base_url=stack.state.endpoints.gateway_api, timeout=60) as http:
        started = await http.post("/process/stream/start", headers={"Livepeer": header}, json={})
        assert started.status_code == 200, started.text
        urls = started.json()
        assert urls["data_url"].endswith(f"/process/stream/{urls['stream_id']}/data")
        notes: list[dict[str, Any]] = []

        async def follow() -> None:
            async with http.stream("GET", urls["data_url"]) as events:
                assert events.status_code == 200
                assert events.headers["content-type"].startswith("text/event-stream")
                async for line in events.aiter_lines():
                    if line.startswith("data:"):
                        notes.append(json.loads(line.removeprefix("data:").strip()))
                    if len(notes) == 2:
                        return

        following = asyncio.create_task(follow())
        async with TricklePublisher(urls["publish_url"], "video/MP2T") as video_in:
            for n in range(2):
                await publish(video_in, [b"G" * (10 + n)])
        await asyncio.wait_for(following, 20)
        assert notes == [{"segment": 0, "bytes": 10}, {"segment": 1, "bytes": 11}]
        stopped = await http.post(urls["stop_url"])
        assert stopped.status_code == 200, stopped.text
        after = await http.get(urls["data_url"])
        assert after.status_code == 409 and after.json()["code"] == "StreamStopped"
        never = await http.get("/process/stream/never-started/data")
        assert never.status_code == 404


async def test_the_tenant_stream_api_needs_a_key_and_shows_a_tenant_its_own_streams(
    stack: StackClient, stream_worker: str
) -> None:
    gateway = stack.state.endpoints.gateway_api
    key = {"Authorization": f"Bearer {stack.state.api_key}"}
    submission = {"capability": STREAM_CAPABILITY, "name": "cam", "params": {"strength": 5}}
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as http:
        anonymous = await http.post("/v1/streams", json=submission)
        assert anonymous.status_code == 401, anonymous.text
        bad = await http.post("/v1/streams", json={**submission, "colour": "blue"}, headers=key)
        assert bad.status_code == 400 and "colour" in bad.text, bad.text
        created = await http.post("/v1/streams", json=submission, headers=key)
        assert created.status_code == 201, created.text
        urls = created.json()
        stream_id = urls["stream_id"]
        assert stream_id.startswith("default.cam-")
        assert urls["status_url"] == f"{gateway}/v1/streams/{stream_id}"
        async with (
            TricklePublisher(urls["publish_url"], "video/MP2T") as video_in,
            TrickleSubscriber(urls["subscribe_url"], start_seq=0) as video_out,
        ):
            await publish(video_in, [ts(b"tenant segment")])
            segment = await asyncio.wait_for(video_out.next(), 20)
            assert segment is not None
            assert from_ts(await read_segment(segment)) == b"TENANT SEGMENT"
        assert (await http.get(urls["status_url"])).status_code == 401  # no key
        status = (await http.get(urls["status_url"], headers=key)).json()
        assert status["state"] == "running" and status["stream_id"] == stream_id
        updated = await http.post(urls["update_url"], json={"strength": 6}, headers=key)
        assert updated.status_code == 200, updated.text
        seen = httpx.get(f"{stream_worker}/stream/status").json()["params"][stream_id]
        assert seen == [{"strength": 5}, {"strength": 6}]
        # Another tenant's stream, or a go-livepeer one, is not found under this key.
        other = await http.get("/v1/streams/someone.else-1234", headers=key)
        assert other.status_code == 404
        stopped = await http.post(urls["stop_url"], headers=key)
        assert stopped.status_code == 200 and stopped.json()["state"] == "stopped"
    assert int(stack.token(STREAM_CAPABILITY)["available_capacity"]) == STREAM_CAPACITY
