"""Trickle channels in memory (the HTTP server is tested end to end with pytrickle's clients)."""

from __future__ import annotations

import asyncio

import pytest

from tollway.streams.trickle import KEPT_SEGMENTS, LATEST, Channels, SegmentTooLarge


async def read_all(segment_chunks: object) -> bytes:
    return b"".join([chunk async for chunk in segment_chunks])  # type: ignore[attr-defined]


async def test_a_reader_ahead_of_the_writer_gets_the_bytes_as_written() -> None:
    channel = Channels().create("c", "video/MP2T")
    waiting = channel.for_read(LATEST)
    assert waiting is not None and waiting.seq == 0
    got: list[bytes] = []

    async def reader() -> None:
        async for chunk in waiting.chunks():
            got.append(chunk)

    task = asyncio.create_task(reader())
    segment = await channel.for_write(0)
    assert segment is waiting
    channel.wrote(0)
    await segment.write(b"ab", 100)
    await asyncio.sleep(0.01)
    assert got == [b"ab"]  # delivered before the segment ends
    await segment.write(b"cd", 100)
    await segment.close()
    await task
    assert b"".join(got) == b"abcd" and channel.next_write == 1


async def test_only_the_last_segments_are_held() -> None:
    channel = Channels().create("c")
    for seq in range(KEPT_SEGMENTS + 2):
        segment = await channel.for_write(seq)
        channel.wrote(seq)
        await segment.write(b"%d" % seq, 100)
        await segment.close()
    assert channel.for_read(0) is None and channel.for_read(1) is None  # fell out of the window
    held = channel.for_read(2)
    assert held is not None and await read_all(held.chunks()) == b"2"
    assert channel.for_read(channel.next_write + 3) is None  # far ahead of the writer
    latest = channel.for_read(-2)  # the last written
    assert latest is not None and latest.seq == KEPT_SEGMENTS + 1


async def test_a_closed_channel_ends_its_readers() -> None:
    channels = Channels()
    channel = channels.create("c")
    waiting = channel.for_read(LATEST)
    assert waiting is not None
    task = asyncio.create_task(read_all(waiting.chunks()))
    assert await channels.close("c") is True
    assert await task == b"" and channel.closed
    assert channels.get("c") is None and await channels.close("c") is False


async def test_a_segment_over_the_limit_is_refused_and_closed() -> None:
    segment = await Channels().create("c").for_write(0)
    await segment.write(b"x" * 8, 10)
    with pytest.raises(SegmentTooLarge, match="10-byte limit"):
        await segment.write(b"x" * 8, 10)
    assert segment.closed and bytes(segment.data) == b"x" * 8


async def test_a_segment_written_again_ends_its_old_readers() -> None:
    channel = Channels().create("c")
    segment = await channel.for_write(0)
    await segment.write(b"first", 100)
    reading = segment.chunks()
    assert await anext(reading) == b"first"
    again = await channel.for_write(0)  # a publisher that retried the segment
    assert again is segment and bytes(segment.data) == b""
    await segment.write(b"second!", 100)
    assert [chunk async for chunk in reading] == []  # ends: the bytes it read are gone
    await segment.close()
    assert await read_all(segment.chunks()) == b"second!"


async def test_a_restarted_publisher_numbers_again_and_idle_channels_close() -> None:
    channels = Channels()
    channel = channels.create("c")
    for seq in range(3):
        segment = await channel.for_write(seq)
        channel.wrote(seq)
        await segment.close()
    await channel.restart(0)
    assert channel.next_write == 0 and channel.for_read(2) is None
    assert await channels.close_idle(3600) == []
    assert await channels.close_idle(0) == ["c"] and len(channels) == 0
