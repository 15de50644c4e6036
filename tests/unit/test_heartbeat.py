"""A slow activity heartbeats while it waits, so a killed worker is noticed in seconds."""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.testing import ActivityEnvironment

from tollway.activities.heartbeat import heartbeating


async def test_heartbeats_while_the_work_runs_and_returns_its_result() -> None:
    beats: list[object] = []

    @activity.defn
    async def slow() -> str:
        return await heartbeating(asyncio.sleep(0.35, result="done"), every=0.1)

    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details)
    assert await env.run(slow) == "done"
    assert 2 <= len(beats) <= 4


async def test_errors_of_the_work_propagate() -> None:
    async def boom() -> None:
        raise ValueError("chain said no")

    try:
        await heartbeating(boom(), every=0.05)
    except ValueError as exc:
        assert str(exc) == "chain said no"
    else:
        raise AssertionError("the error was swallowed")
