"""Cancel on the embedded stack: a job canceled while it runs is stopped at the orchestrator,
its container's work stops (the echo container counts a sleep whose client left), and it is
billed for the time it ran, less than a full run; a job that ended is not canceled."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.e2e.stack_client import ECHO_PRICE, StackClient, wait_for

pytestmark = pytest.mark.e2e

SLEEP_SECONDS = 8
SLEEPY = {
    "capability": "echo",
    "path": "/sleep",
    "input": {"seconds": SLEEP_SECONDS},
    "timeout_seconds": 30,
    "max_price_wei_per_second": 10**14,
}


def test_a_running_job_canceled_stops_its_work_and_costs_less(stack: StackClient) -> None:
    container = stack.state.replica_url()
    before = httpx.get(f"{container}/stats").json()
    job_id = stack.gateway.post("/v1/jobs", json=SLEEPY).json()["job_id"]

    def events() -> list[str]:
        return [e["type"] for e in stack.gateway.get(f"/v1/jobs/{job_id}/events").json()]

    wait_for(lambda: "job.started" in events(), "the job to start on the orchestrator")
    time.sleep(1.5)
    asked = time.monotonic()
    canceled = stack.gateway.post(f"/v1/jobs/{job_id}/cancel")
    took = time.monotonic() - asked
    assert canceled.status_code == 200, canceled.text
    job = canceled.json()
    assert job["state"] == "canceled" and job["unit"] == "second"
    full_run = ECHO_PRICE * SLEEP_SECONDS
    assert 0 < job["cost_wei"] < full_run, (job["cost_wei"], full_run)
    assert job["cost_wei"] == ECHO_PRICE * job["units"]
    print(f"\ncancel answered in {took:.1f} s; billed {job['units']} s of {SLEEP_SECONDS}")
    # The container stopped the request's work: its sleep was abandoned, not finished.
    wait_for(
        lambda: httpx.get(f"{container}/stats").json()["abandoned"] == before["abandoned"] + 1,
        "the container to stop the canceled job's work",
        timeout=10,
    )
    assert httpx.get(f"{container}/stats").json()["slept"] == before["slept"]
    assert events()[-1] == "job.canceled"
    listed = stack.gateway.get("/v1/jobs", params={"status": "canceled"}).json()["data"]
    assert job_id in [r["id"] for r in listed]
    again = stack.gateway.post(f"/v1/jobs/{job_id}/cancel")
    assert again.status_code == 409 and again.json()["state"] == "canceled"


def test_a_finished_job_is_not_canceled(stack: StackClient) -> None:
    done = stack.gateway.post(
        "/v1/jobs", json={"capability": "echo", "input": {}}, headers={"Prefer": "wait=30"}
    )
    assert done.json()["job"]["state"] == "succeeded"
    refused = stack.gateway.post(f"/v1/jobs/{done.json()['job_id']}/cancel")
    assert refused.status_code == 409 and refused.json()["state"] == "succeeded"
    assert stack.gateway.post("/v1/jobs/default.nope/cancel").status_code == 404
