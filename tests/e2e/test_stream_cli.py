"""`tollway stream` on the embedded stack: the live-effect container (examples/live-effect) is
served in Docker, and the command streams a generated test pattern through the gateway, shows
its progress line and writes the output; the output decodes, and its frames are the pattern's,
inverted. Then `tollway byoc check --stream` holds the same image to the stream contract."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from tests.e2e.market import EXAMPLES, LIVE_CAPABILITY
from tests.e2e.stack_client import StackClient
from tollway.cli.serve import serve_file
from tollway.streams.video import decode_segment, frame_number

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
