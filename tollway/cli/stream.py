"""`tollway stream CAPABILITY`: publish a video file, or a generated test pattern, through the
gateway as a live stream, write what comes back to a file, and show a live progress line
(segments in and out, latency, the orchestrator serving it, what it has cost so far).

The client side of go-livepeer's stream API: `POST /process/stream/start`, then pytrickle's
publisher on `publish_url` and its subscriber on `subscribe_url`, then `stop_url`. With the
test pattern each output frame says which input frame it was, so the latency shown is
measured frame by frame; with a file it is not known and shows as "-".
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.live import Live
from rich.text import Text

from tollway.errors import BadRequest
from tollway.streams.video import (
    BadSegment,
    decode_segment,
    file_segments,
    frame_number,
    pattern_segments,
)

__all__ = ["StreamOptions", "StreamReport", "quiet_pytrickle", "run_stream"]

STATUS_EVERY_SECONDS = 1.0
DRAIN_SECONDS = 10.0
"""After the last input segment, how long to wait for the output to catch up."""


def quiet_pytrickle() -> None:
    """pytrickle's clients log each connection at INFO and leave the tasks of the sessions
    they close unread (asyncio logs each as an error): neither means anything went wrong."""
    logging.getLogger("pytrickle").setLevel(logging.WARNING)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class StreamOptions:
    gateway: str
    capability: str
    output: Path
    input: Path | None = None
    """A video file; None: the generated test pattern."""
    seconds: float = 30.0
    """How long the test pattern runs (a file runs to its end)."""
    width: int = 256
    height: int = 256
    fps: int = 30
    segment_seconds: float = 0.5
    params: dict[str, Any] = field(default_factory=dict)
    api_key: str | None = None


@dataclass
class StreamReport:
    stream_id: str = ""
    segments_in: int = 0
    segments_out: int = 0
    bytes_out: int = 0
    frames_out: int = 0
    undecodable: int = 0
    """Output segments that were not video PyAV decodes."""
    latency_seconds: float | None = None
    """Of the newest output frame (the test pattern only)."""
    orchestrator: str | None = None
    swaps: int = 0
    cost_wei: int = 0
    state: str = "starting"
    sent_at: dict[int, float] = field(default_factory=dict)
    """When each test-pattern segment was published (by segment number; the newest only)."""

    def line(self) -> Text:
        latency = "-" if self.latency_seconds is None else f"{self.latency_seconds:.2f} s"
        return Text.assemble(
            (f"{self.state:<9}", "bold"),
            f" in {self.segments_in} segments · out {self.segments_out} "
            f"({self.frames_out} frames, {self.bytes_out / 1024:.0f} KiB) · latency {latency}"
            f" · {self.orchestrator or '-'} · swaps {self.swaps}"
            f" · cost {self.cost_wei / 1e18:.6f} ETH",
            (f" · {self.undecodable} undecodable" if self.undecodable else ""),
        )


def _header(capability: str) -> str:
    job = {"capability": capability, "timeout_seconds": 60}
    return base64.b64encode(json.dumps(job).encode()).decode()


SENT_KEPT = 256
"""Segments whose send time is kept for the latency (far more than the stream's delay)."""


def _frames_per_segment(options: StreamOptions) -> int:
    return max(1, round(options.fps * options.segment_seconds))


def _segments(options: StreamOptions) -> Iterator[bytes]:
    per_segment = _frames_per_segment(options)
    if options.input is not None:
        yield from file_segments(options.input, per_segment)
        return
    count = max(1, round(options.seconds * options.fps / per_segment))
    yield from pattern_segments(options.width, options.height, options.fps, per_segment, count)


def _latency(options: StreamOptions, report: StreamReport, number: int) -> float | None:
    """Seconds since test-pattern frame `number` went out (its segment's send time plus its
    place in the segment); None when that is not known."""
    per_segment = _frames_per_segment(options)
    sent = report.sent_at.get(number // per_segment)
    if sent is None:
        return None
    return time.monotonic() - (sent + (number % per_segment) / options.fps)


async def run_stream(options: StreamOptions, console: Console) -> StreamReport:
    """Stream until the input ends, then stop the stream; the report of what happened."""
    from pytrickle.publisher import TricklePublisher
    from pytrickle.subscriber import TrickleSubscriber

    report = StreamReport()
    headers = {"Authorization": f"Bearer {options.api_key}"} if options.api_key else {}
    params = {"width": options.width, "height": options.height, **options.params}
    async with httpx.AsyncClient(base_url=options.gateway, headers=headers, timeout=60) as http:
        answer = await http.post(
            "/process/stream/start",
            headers={"Livepeer": _header(options.capability)},
            json={"params": json.dumps(params)},
        )
        if answer.status_code != 200:
            raise BadRequest(
                f"the gateway did not start the stream: {answer.status_code} {answer.text[:500]}"
            )
        urls = answer.json()
        report.stream_id = urls["stream_id"]
        finished = asyncio.Event()

        async def publish() -> None:
            every = options.segment_seconds
            began = time.monotonic()
            async with TricklePublisher(urls["publish_url"], "video/MP2T") as publisher:
                for n, data in enumerate(_segments(options)):
                    await asyncio.sleep(max(0.0, began + n * every - time.monotonic()))
                    report.sent_at[n] = time.monotonic()
                    report.sent_at.pop(n - SENT_KEPT, None)
                    async with await publisher.next() as writer:
                        await writer.write(data)
                    report.segments_in += 1

        async def receive(out: Any) -> None:
            async with TrickleSubscriber(urls["subscribe_url"], start_seq=0) as subscriber:
                while not finished.is_set():
                    segment = await subscriber.next()
                    if segment is None:
                        return
                    data = b""
                    while chunk := await segment.read():
                        data += chunk
                    if segment.eos():
                        return
                    out.write(data)
                    report.segments_out += 1
                    report.bytes_out += len(data)
                    try:
                        frames = await asyncio.to_thread(decode_segment, data)
                    except BadSegment:
                        report.undecodable += 1
                        continue
                    report.frames_out += len(frames)
                    if frames and options.input is None:
                        # The frame's number reads back plain, or inverted by the effect.
                        for inverted in (False, True):
                            number = frame_number(frames[-1], inverted=inverted)
                            latency = _latency(options, report, number)
                            if latency is not None and latency >= 0:
                                report.latency_seconds = latency
                                break

        async def follow(live: Live) -> None:
            while not finished.is_set():
                status = (await http.get(urls["status_url"])).json()
                report.state = status.get("state", report.state)
                report.orchestrator = status.get("orchestrator")
                report.swaps = status.get("swaps", 0)
                report.cost_wei = status.get("ticket_ev_wei", 0)
                live.update(report.line())
                await asyncio.sleep(STATUS_EVERY_SECONDS)

        with options.output.open("wb") as out, Live(report.line(), console=console) as live:
            receiving = asyncio.create_task(receive(out))
            following = asyncio.create_task(follow(live))
            try:
                await publish()
                await asyncio.wait([receiving], timeout=DRAIN_SECONDS)
            finally:
                finished.set()
                receiving.cancel()
                following.cancel()
                stopped = await http.post(urls["stop_url"])
                if stopped.status_code == 200:
                    report.state = stopped.json().get("state", report.state)
                live.update(report.line())
    if not console.is_terminal:
        console.print()  # Live leaves its last line open off a terminal
    return report
