"""`tollway byoc check IMAGE --stream`: hold a stream container to the stream contract
(CONTRACT.md "Live streams") the way an orchestrator would run it: hardened, with a trickle
server of the check's own on 127.0.0.1 bridged into the container at 127.0.0.1:8935.

After the checks every container passes (it starts hardened, answers its health route), it
must take a stream at `/stream/start`, send video back for a generated test pattern, send
events, stop the stream at `/stream/stop`, and refuse a start without its WORKER_TOKEN.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from tollway.api import trickle
from tollway.api.errors import install_error_handlers
from tollway.byoc.check import CHECK_LABEL, CheckOptions, CheckResult, check_spec
from tollway.byoc.docker_runtime import DockerRuntime
from tollway.byoc.health import wait_healthy
from tollway.byoc.spec import TRICKLE_PORT, WORKER_LABEL
from tollway.byoc.trickle_bridge import TrickleBridges, trickle_url_inside
from tollway.errors import TollwayError
from tollway.netutil import free_port
from tollway.streams.trickle import Channels
from tollway.streams.video import BadSegment, decode_segment, pattern_segments

__all__ = ["run_stream_checks"]

SIZE = 128
FPS = 30
FRAMES_PER_SEGMENT = 15
OUTPUT_TIMEOUT_SECONDS = 30.0
EVENT_TIMEOUT_SECONDS = 15.0
MAX_SEGMENT_BYTES = 32 * 1024 * 1024


@dataclass
class _Limits:
    trickle_max_segment_bytes: int = MAX_SEGMENT_BYTES


@dataclass
class _Host:
    trickle: Channels
    settings: _Limits


@contextlib.asynccontextmanager
async def _trickle_server(channels: Channels) -> AsyncIterator[str]:
    """A trickle server on 127.0.0.1 for the check's channels; its base URL."""
    app = FastAPI()
    app.state.services = _Host(channels, _Limits())
    install_error_handlers(app)
    app.include_router(trickle.router(None))
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for name in channels.names():  # ends the container's long polls
            await channels.close(name)
        server.should_exit = True
        await serving


async def run_stream_checks(
    runtime: DockerRuntime, options: CheckOptions, report: Callable[[CheckResult], None]
) -> bool:
    """Run every check, reporting each as it ends; True when all passed."""
    token = secrets.token_urlsafe(16)
    check_id = f"check-{secrets.token_hex(4)}"
    spec = check_spec(options, token, labels={WORKER_LABEL: check_id}, trickle_port=TRICKLE_PORT)

    def result(name: str, passed: bool, detail: str) -> bool:
        report(CheckResult(name, passed, detail))
        return passed

    try:
        started = runtime.start(spec)
    except TollwayError as exc:
        return result("starts hardened", False, exc.message)
    channels = Channels()
    try:
        result(
            "starts hardened",
            True,
            f"{started.name}: non-root, read-only root, no capabilities, port {options.port}",
        )
        try:
            await wait_healthy(started.url, options.health_path, options.health_timeout_seconds)
        except TollwayError as exc:
            logs = runtime.logs(started.container_id, tail=20).strip()
            return result("answers its health route", False, f"{exc.message}\n    {logs}")
        result("answers its health route", True, f"GET {options.health_path} -> 200")
        async with _trickle_server(channels) as base:
            bridges = TrickleBridges(base, check_id)
            try:
                await bridges.sync(runtime.list_containers({CHECK_LABEL: "1"}))
                if started.container_id not in bridges.bridged:
                    return result("takes a stream", False, "could not bridge the trickle server in")
                return await _stream_checks(started.url, base, channels, token, result)
            finally:
                await bridges.close()
    finally:
        for name in channels.names():
            await channels.close(name)
        runtime.stop(started.container_id)


async def _stream_checks(
    url: str,
    base: str,
    channels: Channels,
    token: str,
    result: Callable[[str, bool, str], bool],
) -> bool:
    from pytrickle.publisher import TricklePublisher

    stream_id = f"check-{secrets.token_hex(4)}"
    names = {
        "subscribe_url": stream_id,
        "publish_url": f"{stream_id}-out",
        "control_url": f"{stream_id}-control",
        "events_url": f"{stream_id}-events",
        "data_url": f"{stream_id}-data",
    }
    for key, name in names.items():
        video = key in ("subscribe_url", "publish_url")
        channels.create(name, "video/MP2T" if video else "application/json")
    inside = trickle_url_inside(TRICKLE_PORT)
    body: dict[str, Any] = {
        "stream_id": stream_id,
        "gateway_request_id": stream_id,
        "params": {"width": SIZE, "height": SIZE},
        **{key: f"{inside}/ai/trickle/{name}" for key, name in names.items()},
    }
    auth = {"Authorization": f"Bearer {token}", "X-Stream-Id": stream_id}
    async with httpx.AsyncClient(trust_env=False, base_url=url, timeout=30) as http:
        answer = await http.post("/stream/start", json=body, headers=auth)
        if not answer.is_success:
            return result(
                "takes a stream",
                False,
                f"/stream/start -> {answer.status_code}: {answer.text[:200]}",
            )
        result("takes a stream", True, f"POST /stream/start -> {answer.status_code}")

        async def publish() -> None:
            every = FRAMES_PER_SEGMENT / FPS
            source = pattern_segments(SIZE, SIZE, FPS, FRAMES_PER_SEGMENT)
            async with TricklePublisher(
                f"{base}/ai/trickle/{names['subscribe_url']}", "video/MP2T"
            ) as pub:
                for data in source:
                    async with await pub.next() as writer:
                        await writer.write(data)
                    await asyncio.sleep(every)

        began = time.monotonic()
        publishing = asyncio.create_task(publish())
        try:
            output = f"{base}/ai/trickle/{names['publish_url']}"
            try:
                frames = decode_segment(await _first_segment(output, OUTPUT_TIMEOUT_SECONDS))
            except (TimeoutError, BadSegment) as exc:
                why = "no output segment" if isinstance(exc, TimeoutError) else str(exc)
                return result("streams video back", False, f"{why} in {OUTPUT_TIMEOUT_SECONDS:g} s")
            if not frames:
                return result("streams video back", False, "the first output segment has no video")
            height, width = frames[0].shape[:2]
            result(
                "streams video back",
                True,
                f"first output segment after {time.monotonic() - began:.1f} s: {len(frames)} "
                f"frames, {width}x{height}",
            )
            events = f"{base}/ai/trickle/{names['events_url']}"
            try:
                text = await _first_segment(events, EVENT_TIMEOUT_SECONDS)
            except TimeoutError:
                return result(
                    "sends events", False, f"no event on events_url in {EVENT_TIMEOUT_SECONDS:g} s"
                )
            result("sends events", True, f"first event: {text[:80].decode(errors='replace')}")
        finally:
            publishing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await publishing

        stopped = await http.post("/stream/stop", json={}, headers=auth)
        if not stopped.is_success:
            return result("stops the stream", False, f"/stream/stop -> {stopped.status_code}")
        result("stops the stream", True, f"POST /stream/stop -> {stopped.status_code}")
        anonymous = await http.post("/stream/start", json=body, headers={"X-Stream-Id": stream_id})
        if anonymous.status_code != 401:
            with contextlib.suppress(httpx.HTTPError):
                await http.post("/stream/stop", json={}, headers=auth)
            return result(
                "enforces WORKER_TOKEN",
                False,
                f"/stream/start without `Authorization: Bearer` -> {anonymous.status_code}, "
                "expected 401",
            )
        return result("enforces WORKER_TOKEN", True, "no bearer token -> 401")


async def _first_segment(url: str, timeout: float) -> bytes:
    """The first segment of the channel at `url`, whole (pytrickle's subscriber);
    TimeoutError when none begins within `timeout`."""
    from pytrickle.subscriber import TrickleSubscriber

    async with TrickleSubscriber(url, start_seq=0) as subscriber:
        segment = await asyncio.wait_for(subscriber.next(), timeout)
        data = b""
        while segment is not None and (chunk := await segment.read()):
            data += chunk
    return data
