"""Server-sent events flow through: the echo container's `/events` route writes an event every
0.4 s, and each reaches the client as it is written, through the orchestrator alone and through
both gateway paths (`/process/request` and a running `/v1/jobs` job's output), never held back
until the stream ends. The whole stream is still the job's output and it is billed once."""

from __future__ import annotations

import base64
import json
import math
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.stack_client import ECHO_PRICE, StackClient
from tollway.payments.sender import NonceStore, TicketSender
from tollway.protocol.payment import TicketParams
from tollway.protocol.price import Price

EVENTS = 5
INTERVAL = 0.4
PLAN = json.dumps({"events": EVENTS, "interval": INTERVAL}).encode()
LATE_SECONDS = 0.25
"""The most an event may arrive after the container wrote it (the issue's aim is 50 ms; the
figures are printed, the bound leaves room for a loaded 2-core machine)."""


def read_events(answer: httpx.Response) -> list[tuple[float, dict[str, Any]]]:
    """Each event's data and when it arrived here."""
    return [
        (time.time(), json.loads(line.removeprefix("data: ")))
        for line in answer.iter_lines()
        if line.startswith("data: ")
    ]


def assert_live(events: list[tuple[float, dict[str, Any]]], route: str) -> None:
    assert [data["i"] for _, data in events] == list(range(EVENTS)), events
    delays = [arrived - data["sent"] for arrived, data in events]
    print(f"\n{route}: event delays (ms) {[round(d * 1000, 1) for d in delays]}")
    assert max(delays) < LATE_SECONDS, delays
    # One at a time: the last event arrived well after the first, as they were written.
    assert events[-1][0] - events[0][0] >= (EVENTS - 1) * INTERVAL * 0.8


def test_events_reach_a_process_request_client_one_at_a_time(stack: StackClient) -> None:
    header = base64.b64encode(json.dumps({"capability": "echo", "timeout_seconds": 30}).encode())
    with stack.gateway.stream(
        "POST", "/process/request/events", headers={"Livepeer": header.decode()}, content=PLAN
    ) as answer:
        assert answer.status_code == 200, answer.read()
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert answer.headers["X-Tollway-Job-Id"].startswith("default.lp-")  # its key's tenant
        events = read_events(answer)
    assert_live(events, "/process/request")


def test_events_reach_the_orchestrator_client_one_at_a_time(
    stack: StackClient, tmp_path: Path
) -> None:
    token = stack.token()
    sender = TicketSender(stack.gateway_key, stack.gateway_address, NonceStore(tmp_path / "n.db"))
    batch = sender.batch(
        TicketParams.from_json(token["ticket_params"]), Price.from_json(token["price"]), 3
    )
    credit = stack.credit()
    with stack.orchestrator.stream(
        "POST",
        "/process/request/events",
        headers={
            "Livepeer": stack.signed_header(timeout=30),
            "Livepeer-Payment": batch.payment.encode(),
        },
        content=PLAN,
    ) as answer:
        assert answer.status_code == 200, answer.read()
        assert "Tollway-Units" not in answer.headers  # billed when the stream ends
        events = read_events(answer)
    assert_live(events, "orchestrator")
    # Billed once it ended, by its time: about EVENTS x INTERVAL seconds, rounded up.
    seconds = math.ceil((EVENTS - 1) * INTERVAL)
    charge = credit + batch.ev_wei - stack.credit()
    assert charge in (seconds * ECHO_PRICE, (seconds + 1) * ECHO_PRICE), charge


def test_a_running_jobs_output_streams_its_events(stack: StackClient) -> None:
    accepted = stack.gateway.post(
        "/v1/jobs",
        json={"capability": "echo", "path": "events", "input": json.loads(PLAN)},
    )
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    deadline = time.monotonic() + 30
    while True:  # the output streams once the orchestrator's answer has begun
        with stack.gateway.stream("GET", f"/v1/jobs/{job_id}/output") as answer:
            if answer.status_code == 200:
                assert answer.headers["content-type"].startswith("text/event-stream")
                events = read_events(answer)
                break
        assert time.monotonic() < deadline, "the job's output never began"
        time.sleep(0.02)
    # Joined as it began: at most the first event or two came before this reader did.
    later = [(arrived, data) for arrived, data in events if data["i"] >= 2]
    assert later and max(arrived - data["sent"] for arrived, data in later) < LATE_SECONDS
    assert [data["i"] for _, data in events] == list(range(EVENTS))

    job = stack.wait_job(job_id)
    assert job["state"] == "succeeded", job
    whole = stack.gateway.get(f"/v1/jobs/{job_id}/output")
    assert [
        json.loads(line.removeprefix("data: ")) for line in whole.text.split("\n\n") if line
    ] == [data for _, data in events]
    assert job["outcome"]["output_bytes"] == len(whole.content)
    assert job["cost_wei"] > 0
