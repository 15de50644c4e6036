"""Chain reads kept for a moment and shared: the job tokens and payments of the same half
second ask the chain once (concurrent askers wait for the one read in flight)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["Memo"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._kept: dict[K, tuple[float, asyncio.Future[V]]] = {}

    async def get(self, key: K, read: Callable[[], Awaitable[V]]) -> V:
        """`read()`'s value for `key`, read again once it is `ttl_seconds` old or failed."""
        now = time.monotonic()
        kept = self._kept.get(key)
        future: asyncio.Future[V]
        if kept is None or kept[0] < now or _failed(kept[1]):
            future = asyncio.ensure_future(read())
            self._kept[key] = (now + self._ttl, future)
            if len(self._kept) > 256:  # rounds come and go: forget the stale ones
                self._kept = {k: v for k, v in self._kept.items() if v[0] >= now}
        else:
            future = kept[1]
        return await asyncio.shield(future)


def _failed(future: asyncio.Future[V]) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)
