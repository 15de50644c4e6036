"""The echo replica under fault, on the real stack: `docker kill` it and it is unregistered
while down, then replaced and registered again; restart the GPU worker and the replica is
neither orphaned nor duplicated."""

from __future__ import annotations

import time
from typing import Any

import docker

from tests.e2e.stack_client import StackClient, wait_for


def echo_containers(stack: StackClient) -> list[Any]:
    client = docker.from_env()
    return list(
        client.containers.list(
            filters={"label": [f"tollway.stack={stack.state.stack_id}", "tollway.capability=echo"]}
        )
    )


def registered(stack: StackClient) -> bool:
    answer = stack.orchestrator.get("/v1/capabilities").json()
    return any(c["name"] == "echo" for c in answer["capabilities"])


def echo_job_succeeds(stack: StackClient) -> None:
    answer = stack.gateway.post("/v1/jobs", json={"capability": "echo", "input": {"ok": 1}})
    job = stack.wait_job(answer.json()["job_id"])
    assert job["state"] == "succeeded", job


def test_a_killed_replica_is_unregistered_then_replaced(stack: StackClient) -> None:
    (before,) = echo_containers(stack)
    before.kill()
    down = wait_for(lambda: not registered(stack), "echo still registered")
    back = wait_for(lambda: registered(stack), "echo not registered again")
    (after,) = echo_containers(stack)
    assert after.id != before.id
    print(f"\nunregistered {down:.1f} s after the kill, serving again {back:.1f} s later")
    echo_job_succeeds(stack)


def test_a_gpu_worker_restart_leaves_one_replica(stack: StackClient) -> None:
    (before,) = echo_containers(stack)
    stack.restart("gpu-worker")
    time.sleep(12)  # two health-check periods with the new worker
    (after,) = echo_containers(stack)
    assert after.id == before.id  # the same container, neither orphaned nor duplicated
    assert registered(stack)
    echo_job_succeeds(stack)
