"""Budgets on the embedded stack: 50 concurrent jobs against a budget that fits 20 of them
never spend past it; the rest get 402 naming the limit, the spend and the reset; a failed job
gives its hold back."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.stack_client import ECHO_PRICE, StackClient, wait_for

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 30
WORST_CASE = ECHO_PRICE * (TIMEOUT_SECONDS + 1)
"""What the gateway holds per job: its per-second cap over its timeout and one second more."""
SLEEPY_JOB = {
    "capability": "echo",
    "path": "/sleep",
    "input": {"seconds": 1},
    "timeout_seconds": TIMEOUT_SECONDS,
    "max_price_wei_per_second": ECHO_PRICE,
    "max_price_wei_per_request": 0,  # else its worst case is one request at the gateway's cap
}


def test_concurrent_jobs_never_pass_the_budget(stack: StackClient) -> None:
    admin = {"Authorization": f"Bearer {stack.state.admin_key}"}
    base = stack.state.endpoints.gateway_api
    tenant = f"bud-{uuid.uuid4().hex[:6]}"
    assert httpx.post(f"{base}/v1/tenants", json={"name": tenant}, headers=admin).status_code == 201
    made = httpx.post(f"{base}/v1/keys", json={"tenant": tenant}, headers=admin).json()
    key = {"Authorization": f"Bearer {made['secret']}"}
    limit = 20 * WORST_CASE
    budget = httpx.post(
        f"{base}/v1/budgets",
        json={"tenant": tenant, "period": "day", "amount_wei": str(limit)},
        headers=admin,
    )
    assert budget.status_code == 201, budget.text
    # A tenant's own budget is the operator's to set, not the tenant's.
    mine = httpx.post(f"{base}/v1/budgets", json={"period": "day", "amount_wei": "1"}, headers=key)
    assert mine.status_code == 403

    highest = [0]
    done = threading.Event()

    def watch() -> None:
        with httpx.Client(base_url=base, headers=key) as client:
            # Paced well under the key's read quota, which the polls below share.
            while not done.wait(0.2):
                seen = client.get("/v1/budgets")
                assert seen.status_code == 200, seen.text
                highest[0] = max(highest[0], int(seen.json()[0]["spent_wei"]))

    watcher = threading.Thread(target=watch)
    watcher.start()
    with (
        httpx.Client(base_url=base, headers=key, timeout=60) as client,
        ThreadPoolExecutor(50) as pool,
    ):
        answers = list(pool.map(lambda _: client.post("/v1/jobs", json=SLEEPY_JOB), range(50)))
    accepted = [a.json()["job_id"] for a in answers if a.status_code == 202]
    refused = [a.json() for a in answers if a.status_code == 402]
    assert len(accepted) + len(refused) == 50, [
        a.text for a in answers if a.status_code not in (202, 402)
    ]
    # Holds are given back as jobs end (each costs 2 s, not 31), so a few more may get in.
    assert len(accepted) >= 20 and len(refused) >= 20
    first = refused[0]
    assert first["code"] == "BudgetExceeded" and first["limit_wei"] == str(limit)
    assert first["period"] == "day" and first["resets_at"].endswith("T00:00:00+00:00")
    assert int(first["spent_wei"]) + WORST_CASE > limit

    def finished(job_id: str) -> dict[str, object]:
        other: list[str] = []  # answers that were not a job, named if it never finishes
        seen: list[dict[str, object]] = []

        def ended() -> bool:
            answer = httpx.get(f"{base}/v1/jobs/{job_id}", headers=key)
            if answer.status_code != 200:
                other.append(f"{answer.status_code} {answer.text[:300]}")
                return False
            seen.append(answer.json())
            return seen[-1]["state"] in ("succeeded", "failed", "rejected")

        try:
            wait_for(ended, f"job {job_id} to finish", timeout=120)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; its last answers other than 200: {other[-3:]}") from exc
        return seen[-1]

    try:
        costs = [finished(job_id) for job_id in accepted]
    finally:
        done.set()
        watcher.join()
    assert all(job["state"] == "succeeded" for job in costs)
    [after] = httpx.get(f"{base}/v1/budgets", headers=key).json()
    spent = sum(int(str(job["cost_wei"])) for job in costs)
    assert int(after["spent_wei"]) == spent <= limit
    assert highest[0] <= limit

    # A job that fails gives its hold back: the spend is as before.
    failing = httpx.post(
        f"{base}/v1/jobs", json={**SLEEPY_JOB, "path": "/fail", "max_attempts": 1}, headers=key
    )
    assert failing.status_code == 202, failing.text
    wait_for(
        lambda: httpx.get(f"{base}/v1/jobs/{failing.json()['job_id']}", headers=key).json()["state"]
        == "failed",
        "the failing job to fail",
    )
    wait_for(
        lambda: int(httpx.get(f"{base}/v1/budgets", headers=key).json()[0]["spent_wei"]) == spent,
        "the failed job's hold to be given back",
        timeout=10,
    )
