"""The gateway's relay between its own trickle channels and an orchestrator's (real HTTP to the
stack's trickle server): segments pulled from one orchestrator channel and then, after a swap,
from another land in one local channel that numbers on; segments pushed from a local channel
reach the orchestrator's as they are written."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
from pytrickle.publisher import TricklePublisher
from pytrickle.subscriber import TrickleSubscriber

from tests.e2e.stack_client import StackClient
from tests.e2e.test_trickle import MIME, new_channel, publish, read_segment
from tollway.streams.relay import pull, push
from tollway.streams.trickle import Channel, Channels

LIMIT = 1024 * 1024


async def read_local(channel: Channel, seq: int) -> bytes:
    segment = channel.for_read(seq)
    assert segment is not None, (seq, channel.next_write)
    return b"".join([chunk async for chunk in segment.chunks()])


async def test_pulled_segments_number_on_across_a_swap(stack: StackClient) -> None:
    first, second = new_channel(stack), new_channel(stack)
    local = Channels().create("client-out", MIME)
    async with httpx.AsyncClient() as http:
        pulling = asyncio.create_task(pull(http, first, local, LIMIT))
        async with TricklePublisher(first, MIME) as publisher:
            for n in range(3):
                reading = asyncio.create_task(read_local(local, n))
                await publish(publisher, [b"first-%d" % n])
                assert await asyncio.wait_for(reading, 10) == b"first-%d" % n
        pulling.cancel()  # the swap: the first orchestrator is left
        with contextlib.suppress(asyncio.CancelledError):
            await pulling
        pulling = asyncio.create_task(pull(http, second, local, LIMIT))
        async with TricklePublisher(second, MIME) as publisher:
            for n in range(2):
                reading = asyncio.create_task(read_local(local, 3 + n))
                await publish(publisher, [b"second-%d" % n])
                assert await asyncio.wait_for(reading, 10) == b"second-%d" % n
        assert (await http.delete(second)).status_code == 200
        await asyncio.wait_for(pulling, 10)  # the remote channel closed: the pull ends
    assert local.next_write == 5


async def test_pushed_segments_reach_the_orchestrator_as_they_are_written(
    stack: StackClient,
) -> None:
    remote = new_channel(stack)
    local = Channels().create("client-in", MIME)
    async with httpx.AsyncClient() as http:
        pushing = asyncio.create_task(push(http, local, remote))
        async with TrickleSubscriber(remote, start_seq=0) as subscriber:
            for n in range(3):
                segment = await local.for_write(n)
                local.wrote(n)
                await segment.write(b"head-%d|" % n, LIMIT)
                remote_segment = await asyncio.wait_for(subscriber.next(), 10)
                assert remote_segment is not None and remote_segment.seq() == n
                # Relayed before the local segment ends.
                assert await asyncio.wait_for(remote_segment.read(), 5) == b"head-%d|" % n
                await segment.write(b"tail-%d" % n, LIMIT)
                await segment.close()
                assert await asyncio.wait_for(read_segment(remote_segment), 5) == b"tail-%d" % n
        pushing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pushing
