"""Heartbeating while a slow activity waits on the chain, so that a worker killed mid-activity
is noticed within the heartbeat timeout (seconds) instead of the whole start-to-close timeout
(minutes), and the retry runs on another worker soon."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import activity

__all__ = ["HEARTBEAT_TIMEOUT", "heartbeating"]

T = TypeVar("T")

HEARTBEAT_TIMEOUT = timedelta(seconds=10)
HEARTBEAT_EVERY_SECONDS = 2.0


async def heartbeating(
    work: Awaitable[T],
    every: float = HEARTBEAT_EVERY_SECONDS,
    details: Callable[[], Any] | None = None,
) -> T:
    """Await `work`, heartbeating every `every` seconds while it runs (a local activity has no
    heartbeat: its workflow task's timeout notices a dead worker), with `details()` when given:
    what a retry reads back to resume."""
    if activity.in_activity() and activity.info().is_local:
        return await work
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=every)
            if done:
                return task.result()
            if activity.in_activity():
                activity.heartbeat(*([details()] if details is not None else []))
    finally:
        task.cancel()
