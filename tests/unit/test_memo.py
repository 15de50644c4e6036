"""tollway.payments.memo: chain reads shared for a moment, never a failure kept."""

from __future__ import annotations

import asyncio

import pytest

from tollway.payments.memo import Memo


async def test_concurrent_askers_share_one_read_until_it_is_old() -> None:
    reads = 0

    async def read() -> int:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.01)
        return reads

    memo: Memo[str, int] = Memo(ttl_seconds=0.1)
    assert await asyncio.gather(*(memo.get("head", read) for _ in range(10))) == [1] * 10
    assert await memo.get("head", read) == 1
    await asyncio.sleep(0.15)
    assert await memo.get("head", read) == 2
    assert reads == 2


async def test_a_failed_read_is_tried_again_at_once() -> None:
    answers: list[int | Exception] = [ConnectionError("chain away"), 7]

    async def read() -> int:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    memo: Memo[int, int] = Memo(ttl_seconds=60)
    with pytest.raises(ConnectionError):
        await memo.get(1, read)
    assert await memo.get(1, read) == 7
