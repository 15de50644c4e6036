"""Wait until a BYOC container answers its health route."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from tollway.errors import WorkerFailed

__all__ = ["wait_healthy"]

POLL_INTERVAL_SECONDS = 0.1
MAX_REQUEST_SECONDS = 2.0


async def wait_healthy(
    url: str,
    health_path: str,
    timeout_seconds: float,
    on_attempt: Callable[[int], None] | None = None,
) -> None:
    """Poll `url + health_path` until it answers 200; `WorkerFailed` with the last error if not."""
    target = url.rstrip("/") + health_path
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    attempt = 0
    last_error = "no attempt"
    # trust_env=False: a proxy from the environment must never sit between us and 127.0.0.1.
    async with httpx.AsyncClient(trust_env=False) as client:
        while True:
            attempt += 1
            if on_attempt is not None:
                on_attempt(attempt)
            remaining = deadline - loop.time()
            try:
                response = await client.get(
                    target, timeout=max(0.05, min(MAX_REQUEST_SECONDS, remaining))
                )
                if response.status_code == 200:
                    return
                last_error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last_error = f"{type(exc).__name__}: {exc}".rstrip(": ")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise WorkerFailed(
                    f"{target} not healthy after {timeout_seconds:g}s: {last_error}",
                    url=target,
                    attempts=attempt,
                    last_error=last_error,
                )
            await asyncio.sleep(min(POLL_INTERVAL_SECONDS, remaining))
