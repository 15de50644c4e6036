"""The orchestrator's stream bookkeeping, with a real ledger and registry and an in-memory
stand-in for the container (httpx.MockTransport): a stream whose credit runs out is stopped, and
a start the container refuses keeps nothing. The HTTP routes run end to end in
tests/e2e/test_streams_orchestrator.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import httpx
import pytest

from tollway.api.orchestrator.pricing import Pricing
from tollway.api.orchestrator.serving import JobServer
from tollway.api.orchestrator.streams import StreamServer
from tollway.byoc.registry import CapabilityRegistry
from tollway.config import KeySettings, OrchestratorSettings
from tollway.errors import WorkerFailed
from tollway.payments.ledger import Ledger
from tollway.protocol.capability import ExternalCapability
from tollway.protocol.header import JobRequest
from tollway.protocol.price import Price
from tollway.streams.trickle import Channels

SENDER = "0x" + "ab" * 20
PRICE = 1000


class StandInPricing:
    async def charged_price_wei(self, capability: ExternalCapability, sender: str) -> int:
        return PRICE


def server(tmp_path: Path, container_status: int, calls: list[str]) -> StreamServer:
    settings = OrchestratorSettings(
        secret="s" * 16,
        key=KeySettings(keystore=tmp_path / "key", password_file=tmp_path / "password"),
        min_credit_seconds=1,
        stream_debit_seconds=0.2,
    )
    registry = CapabilityRegistry()
    registry.register(ExternalCapability(name="live", url="http://container", capacity=1))

    def container(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(container_status, json={"status": "x"})

    return StreamServer(
        settings,
        registry,
        cast(Pricing, StandInPricing()),
        Ledger(tmp_path / "ledger.sqlite"),
        cast(JobServer, None),  # starts here carry no payment
        Channels(),
        httpx.AsyncClient(transport=httpx.MockTransport(container)),
    )


def job(stream_id: str) -> JobRequest:
    return JobRequest(
        capability="live", timeout_seconds=10, request=f'{{"stream_id": "{stream_id}"}}'
    )


async def test_a_stream_whose_credit_runs_out_is_stopped(tmp_path: Path) -> None:
    calls: list[str] = []
    streams = server(tmp_path, 200, calls)
    streams.ledger.debit(SENDER, "live", -Price(price_per_unit=PRICE).cost(1))  # one second
    stream, balance = await streams.start(job("s1"), SENDER, None, {})
    assert balance == PRICE and streams.registry.available("live") == 0
    assert streams.trickle.get("s1") is not None and streams.trickle.get("s1-out") is not None
    for _ in range(50):  # debited every 0.2 s: in debt after 1 s, stopped at the next debit
        if "s1" not in streams.streams:
            break
        await asyncio.sleep(0.1)
    assert streams.stopped["s1"].startswith("credit ran out")
    assert calls == ["/stream/start", "/stream/stop"]
    assert streams.registry.available("live") == 1
    assert streams.trickle.get("s1") is None and len(streams.trickle) == 0
    assert streams.ledger.balance_wei(SENDER, "live") == PRICE - PRICE * stream.billed_seconds
    assert await streams.stop("s1", SENDER, {}) is False  # stopped already: not an error


async def test_a_start_the_container_refuses_keeps_nothing(tmp_path: Path) -> None:
    calls: list[str] = []
    streams = server(tmp_path, 500, calls)
    streams.ledger.debit(SENDER, "live", -PRICE * 100)
    with pytest.raises(WorkerFailed, match="refused /stream/start"):
        await streams.start(job("s2"), SENDER, None, {})
    assert streams.streams == {} and len(streams.trickle) == 0
    assert streams.ledger.balance_wei(SENDER, "live") == PRICE * 100  # a stream never run: free
    assert streams.registry.available("live") == 1


async def test_two_starts_of_one_stream_id_run_it_once(tmp_path: Path) -> None:
    calls: list[str] = []
    streams = server(tmp_path, 200, calls)
    streams.registry.register(ExternalCapability(name="live", url="http://container", capacity=2))
    streams.ledger.debit(SENDER, "live", -PRICE * 100)
    results = await asyncio.gather(
        streams.start(job("s3"), SENDER, None, {}),
        streams.start(job("s3"), SENDER, None, {}),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1 and "runs already" in str(refused[0])
    assert calls == ["/stream/start"] and streams.registry.available("live") == 1
    assert await streams.stop("s3", SENDER, {}) is True
    assert streams.registry.available("live") == 2
