"""Pricing on the real stack: the job token carries a quote the orchestrator signed for this
gateway, and capabilities priced per request or per frame are billed that way, end to end."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.market import WORKER
from tests.e2e.stack_client import StackClient
from tollway.devnet import processes
from tollway.netutil import free_port
from tollway.protocol.quote import Quote

PER_REQUEST = 2 * 10**13
PER_FRAME = 10**12
FRAMES = 24


@pytest.fixture(scope="module")
def priced_worker(stack: StackClient) -> Iterator[str]:
    """A BYOC worker reporting 24 frames per answer, registered twice: per request, per frame."""
    port = free_port()
    log = Path(stack.state.directory) / "logs" / "priced-worker.log"
    pid = processes.spawn(
        [sys.executable, str(WORKER), "--port", str(port), "--frames", str(FRAMES)], log
    )
    headers = {"Authorization": stack.state.orchestrator_secret}
    try:
        processes.wait_until(lambda: processes.port_open(port), "priced worker", timeout=30)
        for name, unit, price in (
            ("echo-per-request", "request", PER_REQUEST),
            ("echo-per-frame", "frame", PER_FRAME),
        ):
            registration = {
                "name": name,
                "url": f"http://127.0.0.1:{port}",
                "capacity": 2,
                "price_per_unit": price,
                "unit": unit,
            }
            answer = stack.orchestrator.post(
                "/capability/register", json=registration, headers=headers
            )
            assert answer.status_code == 200, answer.text
        yield f"http://127.0.0.1:{port}"
    finally:
        for name in ("echo-per-request", "echo-per-frame"):
            stack.orchestrator.post("/capability/unregister", content=name, headers=headers)
        processes.stop(pid)


def test_the_token_carries_a_quote_signed_for_this_gateway(stack: StackClient) -> None:
    token = stack.token()
    quote = Quote.model_validate(token["quote"])
    assert quote.orchestrator == stack.state.orchestrator_address
    assert quote.unit == "second"
    problem = quote.problem(
        gateway=stack.gateway_address,
        capability="echo",
        price_wei=token["price"]["pricePerUnit"],
        now=time.time(),
    )
    assert problem is None
    assert 30 < quote.expires_at - time.time() <= 60


@pytest.mark.parametrize(
    ("capability", "cost"),
    [("echo-per-request", PER_REQUEST), ("echo-per-frame", FRAMES * PER_FRAME)],
)
def test_jobs_are_billed_in_their_capabilitys_unit(
    stack: StackClient, priced_worker: str, capability: str, cost: int
) -> None:
    answer = stack.gateway.post("/v1/jobs", json={"capability": capability, "input": {"u": 1}})
    assert answer.status_code == 202, answer.text
    job = stack.wait_job(answer.json()["job_id"])
    assert job["state"] == "succeeded", job
    assert job["cost_wei"] == cost
    output = stack.gateway.get(f"/v1/jobs/{job['job_id']}/output")
    assert output.json() == {"u": 1}


def test_a_per_request_price_above_the_jobs_cap_is_never_paid(
    stack: StackClient, priced_worker: str
) -> None:
    answer = stack.gateway.post(
        "/v1/jobs",
        json={
            "capability": "echo-per-request",
            "input": {},
            "max_price_wei_per_request": PER_REQUEST - 1,
        },
    )
    job = stack.wait_job(answer.json()["job_id"])
    assert job["state"] == "failed"
    assert job["tickets_sent"] == 0
    reasons = " ".join(a["reason"] for a in job["attempts"])
    assert f"wei/request above the job's cap {PER_REQUEST - 1}" in reasons
