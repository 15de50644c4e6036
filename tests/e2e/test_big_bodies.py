"""Large bodies flow through files, never whole in memory: a 20 MiB body goes through the
gateway's `/process/request`, the orchestrator and the echo container and back, and no process
of the stack grows by half of it. A retry of the job id is answered from the kept answer's file.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import httpx

from tests.e2e.stack_client import StackClient
from tests.e2e.test_exactly_once import paid_job

BODY_BYTES = 20 * 1024 * 1024
GROWTH_LIMIT = BODY_BYTES // 2
MEASURED = ("gateway-api", "gateway-worker", "orchestrator-api")


def reset_peaks(stack: StackClient) -> None:
    """Start each measured process's peak resident size (VmHWM) afresh."""
    for name in MEASURED:
        Path(f"/proc/{stack.state.processes[name].pid}/clear_refs").write_text("5")


def memory(stack: StackClient, field: str) -> dict[str, int]:
    """`field` of /proc/PID/status (VmRSS, VmHWM) of each measured process, in bytes."""
    found = {}
    for name in MEASURED:
        status = Path(f"/proc/{stack.state.processes[name].pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        found[name] = int(fields[field].split()[0]) * 1024
    return found


def test_a_large_body_passes_through_files_not_memory(stack: StackClient) -> None:
    body = os.urandom(BODY_BYTES)
    header = base64.b64encode(b'{"capability": "echo", "timeout_seconds": 60}').decode()
    with httpx.Client(base_url=stack.state.endpoints.gateway_api, timeout=90) as http:
        http.post("/process/request/warm", headers={"Livepeer": header}, content=b"warm-up")
        before = memory(stack, "VmRSS")
        reset_peaks(stack)
        answer = http.post(
            "/process/request/big",
            headers={"Livepeer": header, "Content-Type": "application/octet-stream"},
            content=body,
        )
        peaks = memory(stack, "VmHWM")
    assert answer.status_code == 200, answer.text[:300]
    assert hashlib.sha256(answer.content).digest() == hashlib.sha256(body).digest()
    growth = {name: peaks[name] - before[name] for name in MEASURED}
    print(f"peak growth for a {BODY_BYTES >> 20} MiB body, bytes:", growth)
    assert all(g < GROWTH_LIMIT for g in growth.values()), growth


def test_a_retried_job_id_gets_the_kept_large_answer(stack: StackClient, tmp_path: Path) -> None:
    body = os.urandom(4 * 1024 * 1024)
    headers, _, _ = paid_job(stack, tmp_path)
    runs = stack.orchestrator_metric("tollway_capability_requests_total", capability="echo")
    again = stack.orchestrator_metric("tollway_jobs_answered_again_total")
    with httpx.Client(base_url=stack.state.endpoints.orchestrator_api, timeout=60) as http:
        first = http.post("/process/request/big", headers=headers, content=body)
        retried = http.post("/process/request/big", headers=headers, content=body)
    for answer in (first, retried):
        assert answer.status_code == 200, answer.text[:300]
        assert answer.headers["Content-Length"] == str(len(body))
        assert answer.content == body
    assert stack.orchestrator_metric("tollway_jobs_answered_again_total") == again + 1
    ran = stack.orchestrator_metric("tollway_capability_requests_total", capability="echo")
    assert ran == runs + 1
