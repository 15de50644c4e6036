"""Trickle channels, as go-livepeer's trickle protocol defines them: a channel is a numbered
series of segments; a publisher writes segment `n` while subscribers read it as it is written,
and the next one is asked for before it exists. Only the last `KEPT_SEGMENTS` segments are held;
reading one that fell out of that window (or one far ahead of the writer) is "not held", and the
reader should jump to the latest. A channel nobody wrote to for a while is closed.

Everything here runs on one event loop: no locks, one `asyncio.Condition` per segment.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from tollway import metrics

__all__ = [
    "KEPT_SEGMENTS",
    "LATEST",
    "Channel",
    "Channels",
    "Segment",
    "SegmentTooLarge",
    "close_idle_forever",
]

KEPT_SEGMENTS = 5
LATEST = -1
"""The segment being written next (a subscriber waits for it)."""


class SegmentTooLarge(Exception):
    """A publisher wrote more than the segment limit."""


@dataclass
class Segment:
    seq: int
    data: bytearray = field(default_factory=bytearray)
    closed: bool = False
    writes: int = 0
    """How often the segment was (re)started: a reader of an older write stops."""
    first_byte_at: float | None = None
    """When its first bytes arrived (time.monotonic)."""
    aborted: bool = False
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def write(self, chunk: bytes, limit: int) -> None:
        if len(self.data) + len(chunk) > limit:
            await self.close()
            raise SegmentTooLarge(f"segment {self.seq} exceeds the {limit}-byte limit")
        async with self._changed:
            if not self.data and chunk:
                self.first_byte_at = time.monotonic()
            self.data += chunk
            self._changed.notify_all()

    async def close(self) -> None:
        async with self._changed:
            self.closed = True
            self._changed.notify_all()

    async def abort(self) -> None:
        """Drop what was written (refused): readers stop, and a relay gives up sending it on."""
        async with self._changed:
            self.aborted = True
            self.data = bytearray()
            self.closed = True
            self.writes += 1
            self._changed.notify_all()

    async def reset(self) -> None:
        """Written again from the start (a publisher that restarted)."""
        async with self._changed:
            self.data = bytearray()
            self.closed = False
            self.aborted = False
            self.writes += 1
            self._changed.notify_all()

    async def begun(self) -> bool:
        """Waits for the first bytes, or the end; True when there are bytes to read."""
        async with self._changed:
            while not self.data and not self.closed:
                await self._changed.wait()
            return bool(self.data)

    def fresh(self) -> bool:
        """Nothing written yet, and not closed."""
        return not self.data and not self.closed

    async def chunks(self) -> AsyncIterator[bytes]:
        """The segment's bytes as they are written, until it is closed."""
        position = 0
        writes = self.writes
        while True:
            async with self._changed:
                while len(self.data) == position and not self.closed and self.writes == writes:
                    await self._changed.wait()
                if self.writes != writes:  # written again from the start
                    return
                chunk = bytes(self.data[position:])
                closed = self.closed
            if chunk:
                position += len(chunk)
                yield chunk
            elif closed:
                return


@dataclass
class Channel:
    name: str
    mime_type: str
    segments: list[Segment | None] = field(default_factory=lambda: [None] * KEPT_SEGMENTS)
    next_write: int = 0
    """The segment a publisher writes next (the first one written so far plus one)."""
    written_at: float = field(default_factory=time.monotonic)
    closed: bool = False

    async def for_write(self, seq: int) -> Segment:
        """The segment `seq` (LATEST: the next) to write, emptied if it was written before."""
        if seq == LATEST:
            seq = self.next_write
        slot = seq % KEPT_SEGMENTS
        held = self.segments[slot]
        if held is not None and held.seq == seq:
            if not held.fresh():
                await held.reset()
            return held
        if held is not None:
            await held.close()  # an older segment leaves the window
        segment = Segment(seq)
        self.segments[slot] = segment
        return segment

    def wrote(self, seq: int) -> None:
        """The first bytes of segment `seq` arrived."""
        self.next_write = max(self.next_write, seq + 1)
        self.written_at = time.monotonic()

    def for_read(self, seq: int) -> Segment | None:
        """The segment `seq` (LATEST: the next to be written) if held, made ready to wait on when
        it is the one to be written next; None when it is not held."""
        if seq == LATEST:
            seq = self.next_write
        elif seq < LATEST:  # before the latest: the one being written, or the last written
            seq = max(self.next_write - 1, 0)
        slot = seq % KEPT_SEGMENTS
        held = self.segments[slot]
        if held is not None and held.seq == seq:
            return held
        if seq == self.next_write or (self.next_write == 0 and seq == 1):
            # A subscriber just ahead of the publisher waits for the segment.
            segment = Segment(seq)
            self.segments[slot] = segment
            return segment
        return None

    def held(self, seq: int) -> Segment | None:
        held = self.segments[seq % KEPT_SEGMENTS]
        return held if held is not None and held.seq == seq else None

    async def restart(self, seq: int) -> None:
        """The publisher restarted and numbers from `seq` again: what is held goes."""
        for slot, segment in enumerate(self.segments):
            if segment is not None:
                await segment.close()
                self.segments[slot] = None
        self.next_write = seq

    async def close(self) -> None:
        self.closed = True
        for segment in self.segments:
            if segment is not None:
                await segment.close()


class Channels:
    """Every trickle channel this server holds, by name."""

    def __init__(self) -> None:
        self._channels: dict[str, Channel] = {}

    def create(self, name: str, mime_type: str = "application/octet-stream") -> Channel:
        """The channel `name`, created if need be."""
        channel = self._channels.get(name)
        if channel is None:
            channel = self._channels[name] = Channel(name, mime_type)
            metrics.TRICKLE_CHANNELS.set(len(self._channels))
        return channel

    def get(self, name: str) -> Channel | None:
        return self._channels.get(name)

    async def close(self, name: str) -> bool:
        """Close and forget the channel; False when there was none."""
        channel = self._channels.pop(name, None)
        if channel is None:
            return False
        metrics.TRICKLE_CHANNELS.set(len(self._channels))
        await channel.close()
        return True

    async def close_idle(self, idle_seconds: float) -> list[str]:
        """Close the channels nothing was written to for `idle_seconds`; their names."""
        now = time.monotonic()
        idle = [n for n, c in self._channels.items() if now - c.written_at > idle_seconds]
        for name in idle:
            await self.close(name)
        return idle

    def names(self) -> list[str]:
        return list(self._channels)

    def __len__(self) -> int:
        return len(self._channels)


async def close_idle_forever(channels: Channels, idle_seconds: float) -> None:
    """Close idle channels, looking a few times per `idle_seconds`."""
    while True:
        await asyncio.sleep(min(60.0, idle_seconds / 4))
        await channels.close_idle(idle_seconds)
