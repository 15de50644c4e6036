"""Relaying a stream's segments between the gateway's own trickle channels and an
orchestrator's, so that a client's URLs and segment numbers stay the same when the stream moves
to another orchestrator: `pull` copies a remote channel into a local one, `push` a local channel
into a remote one, each segment as it is written. Stopping a relay and starting one towards the
next orchestrator is a swap; the local channel numbers on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx

from tollway import metrics
from tollway.streams.trickle import LATEST, Channel, Segment

__all__ = [
    "ContainerSilent",
    "RemoteChannelGone",
    "pull",
    "push",
    "wait_client_gone",
    "watch_events",
]

CLOSED_HEADER = "Lp-Trickle-Closed"
LATEST_HEADER = "Lp-Trickle-Latest"
SEQ_HEADER = "Lp-Trickle-Seq"
NOT_HELD = 470
FROM_THE_NEWEST = -2
"""A remote segment number: the one being written there, or the last written."""


AHEAD_WAIT_SECONDS = 0.05
EVENT_BYTES = 64 * 1024
"""The most of one event that is read (pytrickle's heartbeats are a few hundred bytes)."""


class RemoteChannelGone(Exception):
    """The remote channel does not exist (404), or answered what trickle never does."""


class ContainerSilent(Exception):
    """The container sent no event for longer than it may."""


@asynccontextmanager
async def _segment(
    http: httpx.AsyncClient, remote: str, seq: int
) -> AsyncIterator[tuple[int, httpx.Response] | None]:
    """Remote segment `seq` as it is written, or the newest when `seq` is not held (fell
    behind, or ahead): its number and the answer streaming it; None once the channel closed."""
    while True:
        async with http.stream("GET", f"{remote}/{seq}", timeout=None) as answer:
            if answer.status_code == NOT_HELD:
                seq = int(answer.headers.get(LATEST_HEADER, LATEST))
                continue
            if answer.status_code != 200:
                raise RemoteChannelGone(f"GET {remote}/{seq} answered {answer.status_code}")
            if CLOSED_HEADER in answer.headers:
                yield None
            else:
                yield int(answer.headers.get(SEQ_HEADER, seq)), answer
            return


async def pull(
    http: httpx.AsyncClient,
    remote: str,
    local: Channel,
    limit: int,
    start: int = FROM_THE_NEWEST,
    offset: int | None = None,
    on_next: Callable[[int, int], None] | None = None,
) -> None:
    """Copy the segments of the remote channel at URL `remote` into `local`, until the remote
    channel closes (returns) or is gone (RemoteChannelGone). Remote segment `n` becomes local
    segment `n + offset`; with no offset, the first one read becomes `local`'s next, so its
    numbers go on across a swap, and a resume from an older position writes the same numbers
    again. `on_next` hears the remote number to read next, and the offset."""
    seq = start
    while True:
        async with _segment(http, remote, seq) as found:
            if found is None:
                return
            served, answer = found
            if offset is None:
                offset = local.next_write - served
            segment = await local.for_write(served + offset)
            try:
                async for chunk in answer.aiter_bytes():
                    if chunk:
                        local.wrote(segment.seq)
                        await segment.write(chunk, limit)
            except httpx.RemoteProtocolError:
                # Cut short over there: what arrived stands. An orchestrator that is gone
                # fails the next request instead.
                pass
            finally:
                await segment.close()
            metrics.STREAM_SEGMENTS.labels("out").inc()
            seq = served + 1
            if on_next is not None:
                on_next(seq, offset)


async def push(
    http: httpx.AsyncClient,
    local: Channel,
    remote: str,
    start: int | None = None,
    offset: int | None = None,
    on_next: Callable[[int, int], None] | None = None,
) -> None:
    """Send `local`'s segments to the remote channel at URL `remote`, each as it is written,
    until `local` closes: local segment `n` becomes remote segment `n + offset`. It begins with
    segment `start`, or else the newest (the one being written, or the last written), so a swap
    mid-segment loses nothing of it; with no offset, that one is remote segment 0. `on_next`
    hears the local number to send next, and the offset."""
    seq = max(local.next_write - 1, 0) if start is None else start
    while not local.closed:
        segment = local.for_read(seq)
        if segment is None:
            if seq < local.next_write:  # fell out of the held window: on from the newest
                seq = max(local.next_write - 1, 0)
            else:  # ahead of a channel made again after a restart: wait for its publisher
                await asyncio.sleep(AHEAD_WAIT_SECONDS)
                if local.next_write > 0:
                    seq = max(local.next_write - 1, 0)
            continue
        if not await segment.begun():  # refused, or ended empty: nothing to send on
            seq = segment.seq + 1
            continue
        if offset is None:
            offset = -segment.seq
        if on_next is not None:
            on_next(segment.seq, offset)  # until it is sent whole, a resume sends it again
        try:
            answer = await http.post(
                f"{remote}/{segment.seq + offset}",
                content=_timed(segment),
                headers={"Content-Type": local.mime_type},
                timeout=None,
            )
        except SegmentAborted:
            seq = segment.seq + 1  # the far side dropped its part too
            continue
        if answer.status_code == 404:
            raise RemoteChannelGone(f"POST {remote}/{segment.seq + offset} answered 404")
        answer.raise_for_status()
        metrics.STREAM_SEGMENTS.labels("in").inc()
        seq = segment.seq + 1
        if on_next is not None:
            on_next(seq, offset)


class SegmentAborted(Exception):
    """The segment being sent on was dropped where it came from (refused, or cut short)."""


async def _timed(segment: Segment) -> AsyncIterator[bytes]:
    """The segment's chunks, noting how long its first waited at the gateway; SegmentAborted
    when it is dropped meanwhile, so that the upload breaks off and the far side drops it too."""
    first = True
    async for chunk in segment.chunks():
        if first and segment.first_byte_at is not None:
            metrics.STREAM_RELAY_DELAY.observe(time.monotonic() - segment.first_byte_at)
        first = False
        yield chunk
    if segment.aborted:
        raise SegmentAborted(f"segment {segment.seq} was dropped")


async def watch_events(http: httpx.AsyncClient, remote: str, silence_seconds: float) -> None:
    """Follow the remote events channel from its first event; ContainerSilent when no event
    begins within `silence_seconds` (of the start, or of the one before). Returns when the
    channel closes."""
    seq = 0
    while True:
        try:
            async with asyncio.timeout(silence_seconds), _segment(http, remote, seq) as found:
                if found is None:
                    return
                served, answer = found
                seq = served + 1
                read = 0
                async for chunk in answer.aiter_bytes():
                    read += len(chunk)
                    if read > EVENT_BYTES:
                        break
        except TimeoutError:
            raise ContainerSilent(
                f"no event from the container for {silence_seconds:g} s"
            ) from None


async def wait_client_gone(local: Channel, idle_seconds: float) -> str:
    """Returns, saying why, once the client closed `local` or wrote nothing to it for
    `idle_seconds`."""
    while not local.closed:
        idle = time.monotonic() - local.written_at
        if idle >= idle_seconds:
            return f"the client sent nothing for {idle_seconds:g} s"
        await asyncio.sleep(min(1.0, idle_seconds - idle))
    return "the client closed its channel"
