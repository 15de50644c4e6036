"""A running job's status answers at once, even while its worker is in the middle of a step
(a job of up to two minutes is one workflow task, and a query waits for the task's end)."""

from __future__ import annotations

import time

from tests.e2e.stack_client import StackClient

STEP_SECONDS = 4


def test_a_job_in_the_middle_of_a_step_answers_running(stack: StackClient) -> None:
    accepted = stack.gateway.post(
        "/v1/jobs",
        json={"capability": "echo", "path": "sleep", "input": {"seconds": STEP_SECONDS}},
    )
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    seen = set()
    slowest = 0.0
    until = time.monotonic() + STEP_SECONDS - 1
    while time.monotonic() < until:
        asked = time.monotonic()
        answer = stack.gateway.get(f"/v1/jobs/{job_id}")
        slowest = max(slowest, time.monotonic() - asked)
        assert answer.status_code == 200, answer.text
        status = answer.json()
        assert status["capability"] == "echo"
        seen.add(status["state"])
        time.sleep(0.2)
    assert slowest < 1.5, slowest  # never held until the step ends
    assert "running" in seen, seen
    assert stack.wait_job(job_id)["state"] == "succeeded"
