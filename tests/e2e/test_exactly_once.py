"""A job id runs and is charged at most once at the orchestrator: a retry while the job runs
joins it, a retry after it was charged gets the same answer, and neither runs the container or
charges again. A retry's new tickets are still credited; the same tickets are not paid twice."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.stack_client import StackClient, wait_for
from tollway.payments.sender import NonceStore, TicketSender
from tollway.protocol.payment import TicketParams
from tollway.protocol.price import Price


def paid_job(stack: StackClient, tmp_path: Path) -> tuple[dict[str, str], int, dict[str, Any]]:
    """Headers for a job with a fresh id paid with 2 tickets; their EV, and the job token."""
    token = stack.token()
    payment, ev_wei = stack.payment(tmp_path / "n.db")
    headers = {
        "Livepeer": stack.signed_header(timeout=30, id=f"once.{uuid.uuid4().hex}"),
        "Livepeer-Payment": payment,
    }
    return headers, ev_wei, token


def test_a_retried_job_id_runs_once_and_is_charged_once(stack: StackClient, tmp_path: Path) -> None:
    headers, ev_wei, token = paid_job(stack, tmp_path)
    body = json.dumps({"seconds": 1}).encode()
    runs = stack.orchestrator_metric("tollway_capability_requests_total", capability="echo")
    again = stack.orchestrator_metric("tollway_jobs_answered_again_total")
    credit = stack.credit()

    def send() -> httpx.Response:
        with httpx.Client(base_url=stack.state.endpoints.orchestrator_api, timeout=60) as http:
            return http.post("/process/request/sleep", headers=headers, content=body)

    with ThreadPoolExecutor(2) as pool:  # the second arrives while the first runs
        first, joined = pool.map(lambda _: send(), range(2))
    later = send()  # after the charge: the kept answer

    for answer in (first, joined, later):
        assert answer.status_code == 200, answer.text
        assert answer.content == first.content
        assert answer.headers["Tollway-Units"] == first.headers["Tollway-Units"]
    charge = int(first.headers["Tollway-Units"]) * int(token["price"]["pricePerUnit"])
    assert stack.credit() == credit + ev_wei - charge  # credited once, charged once
    assert int(later.headers["Livepeer-Balance"]) == stack.credit()
    assert (
        stack.orchestrator_metric("tollway_capability_requests_total", capability="echo")
        == runs + 1
    )  # the container ran once
    assert stack.orchestrator_metric("tollway_jobs_answered_again_total") == again + 2


def test_a_retry_with_new_tickets_is_credited_but_not_run_again(
    stack: StackClient, tmp_path: Path
) -> None:
    job = f"once.{uuid.uuid4().hex}"
    sender = TicketSender(stack.gateway_key, stack.gateway_address, NonceStore(tmp_path / "n.db"))

    def paid(count: int) -> tuple[dict[str, str], int]:
        token = stack.token()
        batch = sender.batch(
            TicketParams.from_json(token["ticket_params"]), Price.from_json(token["price"]), count
        )
        return {
            "Livepeer": stack.signed_header(id=job),
            "Livepeer-Payment": batch.payment.encode(),
        }, batch.ev_wei

    headers, _ = paid(1)
    first = stack.orchestrator.post("/process/request/x", headers=headers, content=b"first")
    assert first.status_code == 200, first.text
    credit = stack.credit()
    runs = stack.orchestrator_metric("tollway_capability_requests_total", capability="echo")
    headers, ev = paid(1)
    retry = stack.orchestrator.post("/process/request/x", headers=headers, content=b"other body")
    assert retry.status_code == 200, retry.text
    assert retry.content == b"first"  # the job's answer, not a second run
    assert stack.credit() == credit + ev
    assert stack.orchestrator_metric("tollway_capability_requests_total", capability="echo") == runs


def test_a_retry_after_the_orchestrator_died_mid_job_is_not_refused_as_a_replay(
    stack: StackClient, tmp_path: Path
) -> None:
    """The orchestrator credited the payment, then was SIGKILLed before it answered: the
    gateway's retry brings the same payment with the same job id. It is neither refused as a
    replay nor paid twice, and the job is charged once."""
    headers, ev_wei, token = paid_job(stack, tmp_path)
    body = json.dumps({"seconds": 3}).encode()
    credit = stack.credit()

    def send() -> httpx.Response:
        with httpx.Client(base_url=stack.state.endpoints.orchestrator_api, timeout=60) as http:
            return http.post("/process/request/sleep", headers=headers, content=body)

    with ThreadPoolExecutor(1) as pool:
        lost = pool.submit(send)
        wait_for(lambda: stack.credit() == credit + ev_wei, "the payment credited")
        stack.restart("orchestrator-api")
        try:
            lost.result()
        except httpx.TransportError:
            pass  # the connection died with the orchestrator
    retried = send()
    assert retried.status_code == 200, retried.text
    assert retried.json() == {"slept": 3.0}
    charge = int(retried.headers["Tollway-Units"]) * int(token["price"]["pricePerUnit"])
    assert stack.credit() == credit + ev_wei - charge
    assert stack.orchestrator_metric("tollway_payments_seen_again_total") == 1
