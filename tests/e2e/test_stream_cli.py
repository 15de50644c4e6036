"""`tollway stream` on the embedded stack: the live-effect container (examples/live-effect) is
served in Docker, and the command streams a generated test pattern through the gateway, shows
its progress line and writes the output; the output decodes, and its frames are the pattern's,
inverted. Garbage and huge segments crash neither side. Then `tollway byoc check --stream`
holds the same image to the stream contract."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pytrickle.subscriber import TrickleSubscriber
from rich.console import Console

from tests.e2e.conftest import TRICKLE_SEGMENT_LIMIT
from tests.e2e.market import EXAMPLES, LIVE_CAPABILITY
from tests.e2e.stack_client import StackClient
from tests.e2e.test_trickle import read_segment
from tollway.cli.serve import serve_file
from tollway.streams.video import Frame, decode_segment, frame_number, pattern_segments

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

SIZE = 128


@pytest.fixture(scope="module")
def live_effect(stack: StackClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """live-effect served on the stack (as examples/capabilities.json declares it); its image."""
    folder = tmp_path_factory.mktemp("live-effect")
    declared = json.loads((EXAMPLES / "capabilities.json").read_text())
    (live,) = [c for c in declared["capabilities"] if c["name"] == LIVE_CAPABILITY]
    live["build"] = str(EXAMPLES / "live-effect")
    file = folder / "live.json"
    file.write_text(json.dumps({"capabilities": [live]}))
    console = Console(stderr=True)
    asyncio.run(serve_file(stack.state, file, console, wait_seconds=180))
    try:
        yield "tollway/live-effect:latest"
    finally:
        file.write_text(json.dumps({"capabilities": []}))
        asyncio.run(serve_file(stack.state, file, console, wait_seconds=60))


def test_tollway_stream_sends_a_test_pattern_and_writes_the_output(
    stack: StackClient, live_effect: str, tmp_path: Path
) -> None:
    output = tmp_path / "out.ts"
    run = subprocess.run(
        [
            sys.executable, "-m", "tollway", "stream", LIVE_CAPABILITY,
            "--dir", stack.state.directory, "--seconds", "8",
            "--width", str(SIZE), "--height", str(SIZE), "--output", str(output),
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    # The progress line: segments in and out, latency, the orchestrator, the cost so far.
    assert "in 16 segments" in run.stdout, run.stdout
    assert stack.state.endpoints.orchestrator_api in run.stdout, run.stdout
    assert "latency" in run.stdout and " ETH" in run.stdout, run.stdout
    assert "stopped: 16 segments in" in run.stdout, run.stdout
    frames = decode_segment(output.read_bytes())
    assert len(frames) >= 24 * 4, len(frames)  # at least half of 8 s at pytrickle's 24 fps
    numbers = [frame_number(frame, inverted=True) for frame in frames]
    assert numbers == sorted(numbers) and numbers[0] <= 30, numbers


def test_byoc_check_holds_a_stream_image_to_the_stream_contract(live_effect: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tollway", "byoc", "check", live_effect, "--stream"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    for check in (
        "starts hardened",
        "answers its health route",
        "takes a stream",
        "streams video back",
        "sends events",
        "stops the stream",
        "enforces WORKER_TOKEN",
    ):
        assert f"✓ {check}" in run.stdout, run.stdout
    assert "conforms" in run.stdout


async def test_garbage_and_huge_segments_crash_neither_side(
    stack: StackClient, live_effect: str
) -> None:
    """Between good segments a client sends random bytes, then a segment over the gateway's
    limit: they are refused (400 "not MPEG-TS", 413 naming the limit) and none of their bytes
    go on; the stream runs on, its output the effect applied to the good segments."""
    header = base64.b64encode(
        json.dumps({"capability": LIVE_CAPABILITY, "timeout_seconds": 30}).encode()
    ).decode()
    params = json.dumps({"width": SIZE, "height": SIZE})
    good = pattern_segments(SIZE, SIZE, 30, 15)
    async with httpx.AsyncClient(base_url=stack.state.endpoints.gateway_api, timeout=60) as http:
        started = await http.post(
            "/process/stream/start", headers={"Livepeer": header}, json={"params": params}
        )
        assert started.status_code == 200, started.text
        urls = started.json()
        seq = 0

        async def send(body: bytes) -> httpx.Response:
            nonlocal seq
            answer = await http.post(f"{urls['publish_url']}/{seq}", content=body)
            seq += 1
            await asyncio.sleep(0.5)
            return answer

        for _ in range(4):
            assert (await send(next(good))).status_code == 200
        garbage = await send(os.urandom(200_000))
        assert garbage.status_code == 400 and "not MPEG-TS" in garbage.text, garbage.text
        huge = await send(b"G" * (TRICKLE_SEGMENT_LIMIT + 1))
        assert huge.status_code == 413 and str(TRICKLE_SEGMENT_LIMIT) in huge.text, huge.text
        frames: list[Frame] = []

        async def read_output() -> None:
            async with TrickleSubscriber(urls["subscribe_url"], start_seq=-2) as subscriber:
                while not frames or frame_number(frames[-1], inverted=True) < 15 * 8:
                    segment = await subscriber.next()
                    assert segment is not None
                    frames.extend(decode_segment(await read_segment(segment)))

        reading = asyncio.create_task(read_output())
        for _ in range(16):
            assert (await send(next(good))).status_code == 200
        await asyncio.wait_for(reading, 30)
        status = (await http.get(urls["status_url"])).json()
        assert status["state"] == "running" and status["swaps"] == 0, status
        await http.post(urls["stop_url"])
    numbers = [frame_number(frame, inverted=True) for frame in frames]
    # The good segments sent after the bad ones (frames 60 on) came back, with the effect.
    assert all(0 <= n < 20 * 15 for n in numbers) and numbers[-1] >= 15 * 8, numbers
