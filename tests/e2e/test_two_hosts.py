"""A two-host rehearsal on the embedded stack: a second gateway API and worker pair ("host B",
with a data folder and a copy of the gateway's keystore of its own) beside the stack's own, both
on one PostgreSQL database, one Temporal and one artifact volume; a second GPU worker beside the
first; one orchestrator. Jobs go in through both hosts, host B is SIGKILLed while its jobs run,
and every job still succeeds, read back through host A."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack_client import StackClient, wait_for
from tollway.config import GatewaySettings, load_settings
from tollway.devnet import processes
from tollway.netutil import free_port

pytestmark = pytest.mark.e2e

SLEEPY = {"capability": "echo", "path": "/sleep", "max_price_wei_per_second": 10**14}
JOBS_PER_HOST = 6


@dataclass
class HostB:
    api: str
    pids: dict[str, int]


def _tollway(*args: str) -> list[str]:
    return [sys.executable, "-m", "tollway", *args]


@pytest.fixture
def host_b(stack: StackClient, tmp_path: Path) -> Iterator[HostB]:
    """Host B's gateway API and worker and a second GPU worker, stopped (SIGTERM) at the end
    unless the test killed them."""
    directory = Path(stack.state.directory)
    gateway = load_settings(GatewaySettings, directory / "gateway.json")
    assert gateway.database.startswith("postgresql"), "both hosts share one PostgreSQL"
    keys = tmp_path / "keys"
    keys.mkdir()
    keystore = Path(shutil.copy(gateway.key.keystore, keys / "keystore.json"))
    password = Path(shutil.copy(gateway.key.password_file, keys / "keystore.password"))
    port = free_port()
    env = {
        "TOLLWAY_GATEWAY_PORT": str(port),
        "TOLLWAY_GATEWAY_API_INSTANCE": "host-b",
        "TOLLWAY_GATEWAY_DATA_DIR": str(tmp_path / "gateway"),
        "TOLLWAY_GATEWAY_ARTIFACTS_DIR": str(gateway.artifacts),
        "TOLLWAY_GATEWAY_KEY__KEYSTORE": str(keystore),
        "TOLLWAY_GATEWAY_KEY__PASSWORD_FILE": str(password),
        "TOLLWAY_GATEWAY_WORKER_METRICS_PORT": str(free_port()),
    }
    config = str(directory / "gateway.json")
    gpu_env = {
        "TOLLWAY_GPU_WORKER_ID": "gpu-host-b",
        "TOLLWAY_GPU_METRICS_PORT": str(free_port()),
        "TOLLWAY_GPU_DATA_DIR": str(tmp_path / "gpu-worker"),
    }
    pids = {
        "api": processes.spawn(
            _tollway("gateway", "api", "--config", config), tmp_path / "api.log", env=env
        ),
        "worker": processes.spawn(
            _tollway("gateway", "worker", "--config", config), tmp_path / "worker.log", env=env
        ),
        "gpu": processes.spawn(
            _tollway("gpu-worker", "--config", str(directory / "gpu.json")),
            tmp_path / "gpu.log",
            env=gpu_env,
        ),
    }
    api = f"http://127.0.0.1:{port}"
    try:
        processes.wait_until(lambda: processes.http_ok(f"{api}/healthz"), "host B's API", 60)
        yield HostB(api=api, pids=pids)
    finally:
        for pid in pids.values():
            if processes.alive(pid):
                processes.stop(pid)


def _workers(stack: StackClient) -> set[str]:
    answer = stack.orchestrator.get(
        "/v1/workers", headers={"Authorization": stack.state.orchestrator_secret}
    )
    return {worker["worker_id"] for worker in answer.json()["workers"]}


def test_killing_one_gateway_host_loses_no_job(stack: StackClient, host_b: HostB) -> None:
    wait_for(lambda: {"gpu-0", "gpu-host-b"} <= _workers(stack), "both GPU workers listed")
    headers = {"Authorization": f"Bearer {stack.state.api_key}"}
    jobs: dict[str, int] = {}
    with httpx.Client(base_url=host_b.api, headers=headers, timeout=60) as b:
        for n in range(JOBS_PER_HOST):
            for client in (b, stack.gateway):
                seconds = 3 + n % 3
                answer = client.post("/v1/jobs", json={**SLEEPY, "input": {"seconds": seconds}})
                assert answer.status_code == 202, answer.text
                jobs[answer.json()["job_id"]] = seconds
        on_b = [job_id for job_id in jobs if b.get(f"/v1/jobs/{job_id}").status_code == 200]
        assert len(on_b) == len(jobs), "host B reads every job, whichever host took it"

    def running() -> list[str]:
        return [
            job_id
            for job_id in jobs
            if stack.gateway.get(f"/v1/jobs/{job_id}").json()["state"] == "running"
        ]

    # The jobs are paid and dispatched, most of them by host B's API and worker; each sleeps
    # 3 to 5 s, so some still run when host B dies.
    wait_for(lambda: bool(running()), "some jobs to run before host B dies", timeout=30)
    for role in ("api", "worker"):
        os.kill(host_b.pids[role], signal.SIGKILL)
    wait_for(
        lambda: not any(processes.alive(host_b.pids[role]) for role in ("api", "worker")),
        "host B's API and worker to die",
    )

    after = stack.gateway.post("/v1/jobs", json={**SLEEPY, "input": {"seconds": 1}})
    assert after.status_code == 202, after.text
    jobs[after.json()["job_id"]] = 1
    for job_id in jobs:
        job = stack.wait_job(job_id, timeout=120)
        assert job["state"] == "succeeded", job
        assert job["cost_wei"] > 0
        output = stack.gateway.get(f"/v1/jobs/{job_id}/output")
        assert output.status_code == 200, output.text
        assert output.json() == {"slept": jobs[job_id]}
