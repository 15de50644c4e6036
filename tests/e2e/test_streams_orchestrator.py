"""The orchestrator's live streams (go-livepeer's `/ai/stream/*`), with a stream worker on
pytrickle's own clients: a paid start opens the stream's trickle channels and starts the worker
on them, video segments flow through it, parameter updates reach it, and a stop (twice, or
after the credit check would fail) frees the slot and closes the channels. The stream is billed
by the second it ran; a start without the credit for a minimum run gets 402, and a stream the
gateway stops paying for is stopped by the orchestrator when its credit runs out."""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from pytrickle.publisher import TricklePublisher
from pytrickle.subscriber import TrickleSubscriber

from tests.e2e.conftest import MIN_CREDIT_SECONDS, STREAM_DEBIT_SECONDS
from tests.e2e.conftest import STREAM_CAPABILITY as CAPABILITY
from tests.e2e.conftest import STREAM_CAPACITY as CAPACITY
from tests.e2e.conftest import STREAM_PRICE as PRICE
from tests.e2e.conftest import STREAM_PRICEY as PRICEY
from tests.e2e.stack_client import StackClient, metric_sample
from tests.e2e.test_trickle import from_ts, publish, read_segment, ts


def signed(stack: StackClient, stream_id: str, capability: str = CAPABILITY) -> str:
    return stack.signed_header(capability, timeout=30, request=json.dumps({"stream_id": stream_id}))


def available(stack: StackClient, capability: str = CAPABILITY) -> int:
    return int(stack.token(capability)["available_capacity"])


async def next_event(events: TrickleSubscriber) -> dict[str, Any]:
    """The container's next event but its heartbeats."""
    while True:
        segment = await asyncio.wait_for(events.next(), 10)
        assert segment is not None
        event: dict[str, Any] = json.loads(await read_segment(segment))
        if event["type"] != "heartbeat":
            return event


async def test_a_stream_starts_flows_updates_stops_and_is_billed_by_the_second(
    stack: StackClient, stream_worker: str, tmp_path: Path
) -> None:
    stream_id = f"s-{uuid.uuid4().hex[:10]}"
    payment, ev_wei = stack.payment(tmp_path / "nonces.db", CAPABILITY, tickets=1)
    credit_before = stack.credit(CAPABILITY)
    orchestrator = httpx.AsyncClient(base_url=stack.state.endpoints.orchestrator_api, timeout=30)
    async with orchestrator:
        started = await orchestrator.post(
            "/ai/stream/start",
            headers={"Livepeer": signed(stack, stream_id), "Livepeer-Payment": payment},
            json={"params": {"strength": 1}},
        )
        began = time.monotonic()
        assert started.status_code == 200, started.text
        urls = {k: started.headers[f"X-{k}-Url"] for k in ("Publish", "Subscribe", "Events")}
        assert urls["Publish"].endswith(f"/ai/trickle/{stream_id}")
        assert available(stack) == CAPACITY - 1

        async with (
            TrickleSubscriber(urls["Events"], start_seq=0) as events,
            TricklePublisher(urls["Publish"], "video/MP2T") as video_in,
            TrickleSubscriber(urls["Subscribe"], start_seq=0) as video_out,
        ):
            assert await next_event(events) == {"type": "started", "params": {"strength": 1}}
            for n in range(3):
                await publish(video_in, [ts(b"segment %d of the stream" % n)])
                segment = await asyncio.wait_for(video_out.next(), 10)
                assert segment is not None and segment.seq() == n
                assert from_ts(await read_segment(segment)) == b"SEGMENT %d OF THE STREAM" % n
            updated = await orchestrator.post(
                "/ai/stream/update",
                headers={"Livepeer": signed(stack, stream_id)},
                json={"strength": 2},
            )
            assert updated.status_code == 200, updated.text
            assert await next_event(events) == {"type": "params", "params": {"strength": 2}}
            await asyncio.sleep(2 * STREAM_DEBIT_SECONDS)  # the debit timer runs meanwhile

            stop = {"Livepeer": signed(stack, stream_id)}
            stopped = await orchestrator.post("/ai/stream/stop", headers=stop, json={})
            ran = time.monotonic() - began
            assert stopped.status_code == 200 and stopped.json()["stopped"] is True
        again = await orchestrator.post("/ai/stream/stop", headers=stop, json={})
        assert again.status_code == 200 and again.json()["stopped"] is False  # idempotent
        late = await orchestrator.post("/ai/stream/update", headers=stop, json={"x": 1})
        assert late.status_code == 409 and late.json()["code"] == "StreamStopped"
        gone = await orchestrator.get(f"/ai/trickle/{stream_id}/next")
        assert gone.status_code == 404  # its channels are closed
    assert available(stack) == CAPACITY
    status = httpx.get(f"{stream_worker}/stream/status").json()
    assert stream_id in status["stopped"] and stream_id not in status["running"]
    # Billed by the second it ran: every begun second, as the orchestrator timed it.
    billed = credit_before + ev_wei - stack.credit(CAPABILITY)
    assert billed % PRICE == 0
    debited = f'tollway_stream_debited_wei_total{{capability="{CAPABILITY}"}}'
    assert metric_sample(stack.state.endpoints.orchestrator_api, debited) >= billed
    assert math.floor(ran) <= billed // PRICE <= math.ceil(ran) + 1, (billed // PRICE, ran)


def test_a_start_without_credit_for_a_minimum_run_gets_402(
    stack: StackClient, stream_worker: str, tmp_path: Path
) -> None:
    stream_id = f"s-{uuid.uuid4().hex[:10]}"
    before = available(stack, PRICEY)
    payment, _ = stack.payment(tmp_path / "nonces.db", PRICEY, tickets=1)
    answer = stack.orchestrator.post(
        "/ai/stream/start",
        headers={"Livepeer": signed(stack, stream_id, PRICEY), "Livepeer-Payment": payment},
        json={},
    )
    error = answer.json()
    assert answer.status_code == 402 and error["code"] == "PaymentRequired", answer.text
    assert "a stream needs to start" in error["detail"]
    assert available(stack, PRICEY) == before  # no slot kept
    assert stack.orchestrator.get(f"/ai/trickle/{stream_id}/next").status_code == 404


def test_unknown_streams_and_bad_stream_requests_get_clear_answers(
    stack: StackClient, stream_worker: str
) -> None:
    unknown = {"Livepeer": signed(stack, "never-started")}
    for path in ("/ai/stream/stop", "/ai/stream/update"):
        answer = stack.orchestrator.post(path, headers=unknown, json={})
        assert answer.status_code == 404 and "never-started" in answer.text, path
    bad_id = stack.signed_header(CAPABILITY, timeout=30, request='{"stream_id": "a/b"}')
    answer = stack.orchestrator.post("/ai/stream/stop", headers={"Livepeer": bad_id})
    assert answer.status_code == 400 and answer.json()["field"] == "request"
    no_payment = stack.orchestrator.post("/ai/stream/payment", headers=unknown)
    assert no_payment.status_code == 400
    assert no_payment.json()["field"] == "Livepeer-Payment"


def test_a_stream_nobody_pays_for_is_stopped_when_its_credit_runs_out(
    stack: StackClient, stream_worker: str, tmp_path: Path
) -> None:
    """One ticket pays the start; no payment follows. At a price that ticket covers for one
    second more than a start needs, the orchestrator stops the stream at its second debit in
    debt: a few seconds after that."""
    nonces = tmp_path / "nonces.db"
    _, ev_wei = stack.payment(nonces, CAPABILITY, tickets=1)
    covered = MIN_CREDIT_SECONDS + 1
    metered, price = "stream-metered", ev_wei // covered
    secret = {"Authorization": stack.state.orchestrator_secret}
    registration = {"name": metered, "url": stream_worker, "capacity": 1, "price_per_unit": price}
    assert stack.orchestrator.post("/capability/register", json=registration, headers=secret)
    try:
        stream_id = f"s-{uuid.uuid4().hex[:10]}"
        payment, _ = stack.payment(nonces, metered, tickets=1)
        started = stack.orchestrator.post(
            "/ai/stream/start",
            headers={"Livepeer": signed(stack, stream_id, metered), "Livepeer-Payment": payment},
            json={},
        )
        began = time.monotonic()
        assert started.status_code == 200, started.text
        assert available(stack, metered) == 0
        deadline = began + covered + 30
        while available(stack, metered) == 0:  # its slot is freed once it has ended
            assert time.monotonic() < deadline, "the unpaid stream was never stopped"
            time.sleep(0.5)
        ran = time.monotonic() - began
        assert stream_id in httpx.get(f"{stream_worker}/stream/status").json()["stopped"]
        assert covered - 3 <= ran <= covered + 9, ran
        late = stack.orchestrator.post(
            "/ai/stream/update", headers={"Livepeer": signed(stack, stream_id, metered)}, json={}
        )
        assert late.status_code == 409 and "credit ran out" in late.text, late.text
    finally:
        stack.orchestrator.post("/capability/unregister", content=metered, headers=secret)
