"""Rate limits per API key, with the IETF draft's headers: a `create` bucket for the routes that
start work (jobs and streams) and a `read` bucket for everything else, each a sliding window of
a minute (the `limits` package), plus a cap on a key's jobs in flight.

Every keyed answer says where its bucket stands:

    RateLimit-Policy: "create";q=600;w=60
    RateLimit: "create";r=599;t=42

and a request past its quota gets 429 `RateLimited` with `Retry-After`. The counters live in the
`limits` storage that `rate_limit_storage` names: `memory://` counts per API process (the
default), `redis://host:port` shares them between processes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

from limits import RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from tollway.errors import RateLimited

__all__ = ["Bucket", "RateLimits", "RateState"]

Bucket = Literal["create", "read"]
WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateState:
    bucket: Bucket
    quota: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Policy": f'"{self.bucket}";q={self.quota};w={WINDOW_SECONDS}',
            "RateLimit": f'"{self.bucket}";r={self.remaining};t={self.reset_seconds}',
        }


class RateLimits:
    def __init__(self, storage_uri: str, create_per_minute: int, read_per_minute: int) -> None:
        uri = storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}"
        storage = storage_from_string(uri)
        assert isinstance(storage, Storage)
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._quotas: dict[Bucket, int] = {"create": create_per_minute, "read": read_per_minute}

    async def hit(self, key_id: str, bucket: Bucket, quota: int | None = None) -> RateState:
        """Count one request of the key's in `bucket`; RateLimited (429) past its quota."""
        quota = quota or self._quotas[bucket]
        item = RateLimitItemPerMinute(quota)
        allowed = await self._limiter.hit(item, key_id, bucket)
        stats = await self._limiter.get_window_stats(item, key_id, bucket)
        reset = max(1, math.ceil(stats.reset_time - time.time()))
        state = RateState(bucket, quota, max(0, stats.remaining), min(reset, WINDOW_SECONDS))
        if not allowed:
            raise RateLimited(
                f"API key {key_id} passed its {bucket} quota of {quota} a minute; "
                f"retry in {state.reset_seconds} s",
                bucket=bucket,
                quota=quota,
                retry_after_seconds=state.reset_seconds,
                headers={**state.headers(), "Retry-After": str(state.reset_seconds)},
            )
        return state
