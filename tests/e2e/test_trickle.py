"""The orchestrator's trickle server, driven by pytrickle's own publisher and subscriber (the
classes Livepeer's stream containers use): segments published are read as they are written, a
reader that fell behind the held window gets 470 and jumps to the latest, and a closed channel
ends its readers. Bad input (unknown channels, bad numbers, huge segments) is answered, never
crashes the server."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from pytrickle.publisher import TricklePublisher
from pytrickle.subscriber import Segment, TrickleSubscriber

from tests.e2e.conftest import TRICKLE_SEGMENT_LIMIT
from tests.e2e.stack_client import StackClient
from tollway.streams.trickle import KEPT_SEGMENTS

MIME = "application/octet-stream"
"""Any bytes: the protocol tests; a video channel takes MPEG-TS only (`ts`)."""
TS_PACKET = 188


def new_channel(stack: StackClient, mime: str = MIME) -> str:
    """A fresh channel's URL (channels are created by the orchestrator, with its secret)."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    created = stack.orchestrator.post(
        f"/ai/trickle/{name}",
        headers={"Authorization": stack.state.orchestrator_secret, "Expect-Content": mime},
    )
    assert created.status_code == 200, created.text
    return f"{stack.state.endpoints.orchestrator_api}/ai/trickle/{name}"


def ts(payload: bytes) -> bytes:
    """`payload` in MPEG-TS-shaped packets (the sync byte, then 187 bytes, padded with spaces),
    as a video channel takes; `from_ts` reads it back (upper-cased by the stream worker too)."""
    body = TS_PACKET - 1
    chunks = [payload[i : i + body] for i in range(0, max(len(payload), 1), body)]
    return b"".join(b"G" + chunk.ljust(body) for chunk in chunks)


def from_ts(data: bytes) -> bytes:
    return b"".join(data[i + 1 : i + TS_PACKET] for i in range(0, len(data), TS_PACKET)).rstrip()


async def read_segment(segment: Segment) -> bytes:
    data = b""
    while chunk := await segment.read():
        data += chunk
    return data


async def publish(publisher: TricklePublisher, parts: list[bytes]) -> None:
    async with await publisher.next() as writer:
        for part in parts:
            await writer.write(part)
    # pytrickle numbers the next segment in the background: a publisher that asks for it at
    # once writes the same number again (as a live stream, a segment a second, never does).
    await asyncio.sleep(0.05)


async def test_pytrickle_segments_arrive_as_they_are_written(stack: StackClient) -> None:
    url = new_channel(stack)
    counted = {
        direction: stack.orchestrator_metric("tollway_trickle_segments_total", direction=direction)
        for direction in ("published", "served")
    }
    async with (
        TricklePublisher(url, MIME) as publisher,
        TrickleSubscriber(url, start_seq=0) as subscriber,
    ):
        for seq in range(KEPT_SEGMENTS + 3):
            writer = await publisher.next()
            await writer.write(b"head-%d|" % seq)
            segment = await asyncio.wait_for(subscriber.next(), 10)
            assert segment is not None and segment.seq() == seq
            # The first part is readable while the publisher still holds the segment open.
            assert await asyncio.wait_for(segment.read(), 5) == b"head-%d|" % seq
            await writer.write(b"tail-%d" % seq)
            await writer.close()
            assert await asyncio.wait_for(read_segment(segment), 5) == b"tail-%d" % seq
            assert segment.response.headers["Content-Type"] == MIME
    for direction in ("published", "served"):
        now = stack.orchestrator_metric("tollway_trickle_segments_total", direction=direction)
        assert now >= counted[direction] + KEPT_SEGMENTS + 3, direction


async def test_a_reader_behind_the_window_gets_470_and_jumps_to_the_latest(
    stack: StackClient,
) -> None:
    url = new_channel(stack)
    published = KEPT_SEGMENTS + 3
    async with TricklePublisher(url, MIME) as publisher:
        for seq in range(published):
            await publish(publisher, [b"segment %d" % seq])
        async with httpx.AsyncClient(timeout=10) as http:
            # Wait until the server has every segment (the publisher posts in the background).
            for _ in range(100):
                if (await http.get(f"{url}/next")).text == str(published):
                    break
                await asyncio.sleep(0.05)
            gone = await http.get(f"{url}/0")
        assert gone.status_code == 470
        assert gone.headers["Lp-Trickle-Latest"] == str(published)
        async with TrickleSubscriber(url, start_seq=0) as late:
            reading = asyncio.create_task(late.next())
            await asyncio.sleep(0.3)  # it asked for 0, got 470 and now waits on the latest
            await publish(publisher, [b"the latest"])
            segment = await asyncio.wait_for(reading, 10)
            assert segment is not None and segment.seq() == published
            assert await read_segment(segment) == b"the latest"


async def test_closing_a_channel_ends_its_subscribers(stack: StackClient) -> None:
    url = new_channel(stack)
    async with TrickleSubscriber(url, start_seq=-1) as subscriber:
        waiting = asyncio.create_task(subscriber.next())
        await asyncio.sleep(0.2)
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.delete(url)).status_code == 200
            assert (await http.get(f"{url}/0")).status_code == 404
        assert await asyncio.wait_for(waiting, 10) is None  # end of stream


def test_bad_trickle_requests_get_clear_answers(stack: StackClient) -> None:
    url = new_channel(stack)
    with httpx.Client(timeout=10) as http:
        unknown = http.get(f"{stack.state.endpoints.orchestrator_api}/ai/trickle/nope/0")
        assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]
        assert http.post(f"{url}/not-a-number", content=b"x").status_code == 400
        anyone = http.post(f"{stack.state.endpoints.orchestrator_api}/ai/trickle/mine")
        assert anyone.status_code == 401  # only the orchestrator creates channels
        huge = http.post(f"{url}/0", content=b"x" * (TRICKLE_SEGMENT_LIMIT + 1))
        assert huge.status_code == 413 and huge.json()["code"] == "BodyTooLarge"
        # The server is whole: the next segment is served.
        assert http.post(f"{url}/1", content=b"fine").status_code == 200
        served = http.get(f"{url}/1")
        assert served.status_code == 200 and served.content == b"fine"
        assert served.headers["Lp-Trickle-Seq"] == "1"


def test_a_video_channel_takes_mpeg_ts_only(stack: StackClient) -> None:
    """A `video/MP2T` channel holds back a segment's first two packets until they start with
    the sync byte: anything else is refused, and nothing of it reaches a reader."""
    url = new_channel(stack, "video/MP2T")
    garbage = httpx.post(f"{url}/0", content=b"\x00" * 1000)
    assert garbage.status_code == 400, garbage.text
    assert "not MPEG-TS: byte 0 is 0x00, not the sync byte 0x47" in garbage.text
    late = httpx.post(f"{url}/0", content=b"G" * 188 + b"x" * 500)
    assert late.status_code == 400 and "byte 188 is 0x78" in late.text, late.text
    video = ts(b"a video segment")
    assert httpx.post(f"{url}/0", content=video).status_code == 200
    assert httpx.get(f"{url}/0").content == video
