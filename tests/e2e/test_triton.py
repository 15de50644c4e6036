"""A Triton capability on the real stack: `tollway serve` places the torch filter's model file
on the GPU worker, which starts nvidia-pytriton's Triton server for it; paid jobs through the
gateway reach it through the orchestrator (tritonclient's wire format) and come back filtered.
Restarting the GPU worker leaves the one Triton replica serving; killing its process gets it
unregistered and replaced; applying an empty file stops it."""

from __future__ import annotations

import base64
import json
import os
import signal
from pathlib import Path
from typing import Any

from tests.byoc.torch_filter import FILTER_DIR, SAMPLE, expected, same_image
from tests.e2e.stack_client import StackClient, wait_for
from tests.e2e.test_fleet import capabilities, declaration, serve
from tollway.byoc.triton_runtime import TritonRuntime
from tollway.config import GpuWorkerSettings
from tollway.devnet import processes

PRICE = 10**9
FILTER = {
    "name": "filter-triton",
    "description": "the torch filter's edges, served by Triton",
    "triton": {"model": str(FILTER_DIR / "triton_model.py"), "max_batch_size": 4},
    "capacity": 4,
    "replicas": 1,
    "price": {"amount": PRICE, "unit": "request"},
    "env": {"FILTER": "edges"},
}


def submit(stack: StackClient, body: bytes) -> dict[str, Any]:
    answer = stack.gateway.post(
        "/v1/jobs",
        json={
            "capability": "filter-triton",
            "input_base64": base64.b64encode(body).decode(),
            "content_type": "image/png",
        },
    )
    assert answer.status_code == 202, answer.text
    return stack.wait_job(answer.json()["job_id"], timeout=120)


def runtime_dir(stack: StackClient) -> Path:
    return GpuWorkerSettings(data_dir=Path(stack.state.directory) / "gpu-worker").triton_dir


def triton_replicas(stack: StackClient) -> TritonRuntime:
    return TritonRuntime(runtime_dir(stack))


def test_a_triton_capability_serves_paid_jobs(stack: StackClient, tmp_path: Path) -> None:
    statuses = serve(stack, declaration(tmp_path, [FILTER]))
    assert [s.state for s in statuses.values()] == ["serving"]
    registered = capabilities(stack)["filter-triton"]
    assert registered["capacity"] == 4

    credit_before = stack.credit("filter-triton")
    job = submit(stack, SAMPLE)
    assert job["state"] == "succeeded", job
    output = stack.gateway.get(f"/v1/jobs/{job['job_id']}/output")
    assert output.headers["Content-Type"] == "image/png"
    assert same_image(output.content, expected("edges"))
    debit = credit_before + job["ticket_ev_wei"] - stack.credit("filter-triton")
    assert debit == PRICE  # one request, billed once

    bad = submit(stack, b"definitely not an image")
    assert bad["outcome"]["status_code"] == 400, bad
    error = stack.gateway.get(f"/v1/jobs/{bad['job_id']}/output").json()["error"]
    assert error["type"] == "BadInput" and "not an image" in error["message"]

    # A GPU worker restart: the Triton process outlives it and is taken over, not doubled.
    runtime = triton_replicas(stack)
    [before] = runtime.list_containers()
    stack.restart("gpu-worker")
    again = submit(stack, SAMPLE)
    assert again["state"] == "succeeded", again
    assert [r.container_id for r in runtime.list_containers()] == [before.container_id]

    # The Triton process killed: unregistered while down, replaced, registered again.
    pid = json.loads((runtime_dir(stack) / f"{before.container_id}.json").read_text())["pid"]
    os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: "filter-triton" not in capabilities(stack), "still registered when dead")
    wait_for(lambda: "filter-triton" in capabilities(stack), "not registered again", timeout=90)
    [replaced] = runtime.list_containers()
    assert replaced.container_id != before.container_id and replaced.status == "running"
    assert list(Path("/dev/shm").glob(f"pytrtion{pid}-*")) == []  # the killed one's regions
    assert submit(stack, SAMPLE)["state"] == "succeeded"

    serve(stack, declaration(tmp_path, []))
    wait_for(lambda: "filter-triton" not in capabilities(stack), "filter-triton unregistered")
    wait_for(lambda: runtime.list_containers() == [], "the Triton replica stopped")
    processes.wait_until(
        lambda: runtime.status(before.container_id) is None, "its record removed", timeout=10
    )
