"""A declaration file served on the real stack: two capabilities with two replicas each, under
paid traffic through the gateway. `docker kill` one replica: it is unregistered while down and
replaced, and only the requests in flight on it fail over (to its sibling). Restart the GPU
worker: no orphan, no duplicate. Apply an empty file: every replica drains (a request in flight
finishes) and stops."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
from rich.console import Console

from tests.e2e.stack_client import StackClient, wait_for
from tollway.byoc.replica import ContainerStatus
from tollway.cli.serve import fleet_id, serve_file
from tollway.config import ORCHESTRATOR_NAMESPACE
from tollway.devnet import processes
from tollway.devnet.toolpaths import REPO_ROOT
from tollway.errors import PlacementError
from tollway.temporal import connect
from tollway.workflows.fleet import FleetReplica, FleetStatus

CAPACITY = 2
SLEEP_SECONDS = 1.0
CLIENTS_PER_CAPABILITY = 4


def declaration(tmp_path: Path, capabilities: list[dict[str, Any]]) -> Path:
    file = tmp_path / f"capabilities-{len(capabilities)}.json"
    file.write_text(json.dumps({"capabilities": capabilities}))
    return file


TWO_BY_TWO = [
    {
        "name": "alpha",
        "image": "tollway/echo:latest",
        "capacity": CAPACITY,
        "replicas": 2,
        "price": {"amount": 10**9, "unit": "request"},
    },
    {
        "name": "beta",
        "build": str(REPO_ROOT / "examples" / "echo"),
        "capacity": CAPACITY,
        "replicas": 2,
        "price": {"amount": 10**9, "unit": "request"},
    },
]
TWO_BY_TWO_NAMES = ["alpha", "beta"]


def fleet_containers(stack: StackClient) -> dict[str, str]:
    """Running fleet containers: container id -> the replica (workflow id) that owns it."""
    client = docker.from_env()
    # Sparse: one listing call, no inspect per container (one may be gone by then).
    found = client.containers.list(
        sparse=True, filters={"label": [f"tollway.fleet=fleet-{stack.state.stack_id}"]}
    )
    return {c.id: c.attrs["Labels"]["tollway.replica"] for c in found}


def capabilities(stack: StackClient) -> dict[str, dict[str, Any]]:
    listed = stack.orchestrator.get("/v1/capabilities").json()["capabilities"]
    return {c["name"]: c for c in listed}


def replicas_of(stack: StackClient, name: str) -> int:
    return int(capabilities(stack).get(name, {}).get("replicas", 0))


def in_flight(stack: StackClient, replica: str) -> int:
    listed = stack.orchestrator.get(
        "/v1/replicas", headers={"Authorization": stack.state.orchestrator_secret}
    ).json()["replicas"]
    return sum(r["in_flight"] for rs in listed.values() for r in rs if r["replica"] == replica)


def metric(stack: StackClient, name: str, capability: str) -> float:
    text = stack.orchestrator.get("/metrics").text
    found = re.search(rf'^{name}{{capability="{capability}"}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def serve(stack: StackClient, file: Path) -> dict[str, ContainerStatus]:
    return asyncio.run(serve_file(stack.state, file, Console(stderr=True), wait_seconds=180))


class Traffic:
    """Clients that submit paid sleep jobs in a loop until stopped, recording each outcome."""

    def __init__(self, stack: StackClient, names: list[str]) -> None:
        self._stack = stack
        self._stop = threading.Event()
        self.outcomes: Counter[tuple[str, str]] = Counter()
        self.failures: list[dict[str, Any]] = []
        self._threads = [
            threading.Thread(target=self._client, args=(name,), daemon=True)
            for name in names
            for _ in range(CLIENTS_PER_CAPABILITY)
        ]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)

    def _client(self, name: str) -> None:
        while not self._stop.is_set():
            answer = self._stack.gateway.post(
                "/v1/jobs",
                json={"capability": name, "path": "sleep", "input": {"seconds": SLEEP_SECONDS}},
            )
            job = self._stack.wait_job(answer.json()["job_id"])
            self.outcomes[(name, job["state"])] += 1
            if job["state"] != "succeeded":
                self.failures.append(job)


def test_two_capabilities_two_replicas_kill_restart_and_drain(
    stack: StackClient, tmp_path: Path
) -> None:
    served = serve(stack, declaration(tmp_path, TWO_BY_TWO))
    assert_replicas_listen_where_their_gpu_worker_says(stack)
    assert len(served) == 4
    assert replicas_of(stack, "alpha") == replicas_of(stack, "beta") == 2
    assert capabilities(stack)["alpha"]["capacity"] == 2 * CAPACITY
    before = fleet_containers(stack)
    assert len(before) == 4 and len(set(before.values())) == 4
    failovers_before = {
        n: metric(stack, "tollway_replica_failovers_total", n) for n in TWO_BY_TWO_NAMES
    }

    victim = next(cid for cid, replica in before.items() if served[replica].capability == "alpha")
    with Traffic(stack, ["alpha", "beta"]) as traffic:
        wait_for(lambda: sum(traffic.outcomes.values()) >= 8, "traffic did not flow")
        wait_for(lambda: in_flight(stack, before[victim]) > 0, "nothing in flight on the victim")
        docker.from_env().containers.get(victim).kill()
        down = wait_for(lambda: replicas_of(stack, "alpha") == 1, "killed replica registered")
        back = wait_for(lambda: replicas_of(stack, "alpha") == 2, "replica not replaced")
        time.sleep(2)  # traffic on the replaced replica
    print(f"\nkilled replica unregistered after {down:.1f} s, back {back:.1f} s later; "
          f"outcomes {dict(traffic.outcomes)}")  # fmt: skip
    assert traffic.failures == [], json.dumps(traffic.failures, indent=1)[:3000]
    assert traffic.outcomes[("alpha", "succeeded")] > 8
    assert traffic.outcomes[("beta", "succeeded")] > 8
    failed_over = {
        n: metric(stack, "tollway_replica_failovers_total", n) - failovers_before[n]
        for n in TWO_BY_TWO_NAMES
    }
    # Only the requests in flight on the killed replica moved: at most its capacity, none of
    # beta's; everything sent after the kill went to live replicas.
    assert 1 <= failed_over["alpha"] <= CAPACITY, failed_over
    assert failed_over["beta"] == 0, failed_over

    after_kill = fleet_containers(stack)
    assert victim not in after_kill
    assert len(after_kill) == 4
    assert sorted(after_kill.values()) == sorted(before.values())  # the same replicas

    stack.restart("gpu-worker")
    time.sleep(12)  # two health-check periods with the new worker
    assert fleet_containers(stack) == after_kill  # no orphan, no duplicate

    # Draining: a request in flight on beta when the fleet empties still finishes.
    slow = threading.Thread(target=lambda: results.append(slow_job(stack)))
    results: list[dict[str, Any]] = []
    slow.start()
    wait_for(lambda: capabilities(stack)["beta"]["available_capacity"] < 2 * CAPACITY, "no load")
    serve(stack, declaration(tmp_path, []))
    slow.join(timeout=60)
    assert results and results[0]["state"] == "succeeded", results
    wait_for(lambda: not fleet_containers(stack), "fleet containers left after draining")
    assert "alpha" not in capabilities(stack) and "beta" not in capabilities(stack)


def slow_job(stack: StackClient) -> dict[str, Any]:
    answer = stack.gateway.post(
        "/v1/jobs", json={"capability": "beta", "path": "sleep", "input": {"seconds": 3}}
    )
    return stack.wait_job(answer.json()["job_id"])


def test_a_declaration_that_fits_no_worker_changes_nothing(
    stack: StackClient, tmp_path: Path
) -> None:
    too_big = [{"name": "llm", "image": "tollway/echo:latest", "gpu": {"count": 1}}]
    with pytest.raises(PlacementError, match=r"'llm' needs 1 GPU\(s\).*gpu-0: no GPU"):
        serve(stack, declaration(tmp_path, too_big))
    assert "llm" not in capabilities(stack)


def test_a_cold_swap_replica_starts_on_demand_and_stops_when_idle(
    stack: StackClient, tmp_path: Path
) -> None:
    sleepy = {
        "name": "sleepy",
        "image": "tollway/echo:latest",
        "warm": "cold-swap",
        "idle_timeout_seconds": 2,
        "price": {"amount": 10**9, "unit": "request"},
    }
    (status,) = serve(stack, declaration(tmp_path, [sleepy])).values()
    assert status.state.value == "parked"
    assert status.container is None
    wait_for(lambda: not fleet_containers(stack), "replicas of an earlier file still running")
    assert capabilities(stack)["sleepy"]["replicas"] == 1  # registered cold: discoverable

    def job() -> dict[str, Any]:
        answer = stack.gateway.post("/v1/jobs", json={"capability": "sleepy", "input": [1]})
        return stack.wait_job(answer.json()["job_id"])

    for round_ in range(2):
        started = time.monotonic()
        woken = job()
        assert woken["state"] == "succeeded", json.dumps(woken["attempts"], indent=1)
        print(f"\ncold job {round_} answered in {time.monotonic() - started:.1f} s")
        assert len(fleet_containers(stack)) == 1
        idle = wait_for(lambda: not fleet_containers(stack), "idle container not stopped", 30)
        print(f"stopped {idle:.1f} s after the job")
        assert capabilities(stack)["sleepy"]["replicas"] == 1  # parked again, still offered

    serve(stack, declaration(tmp_path, []))
    wait_for(lambda: "sleepy" not in capabilities(stack), "sleepy still registered")


def fleet_replicas(stack: StackClient) -> list[FleetReplica]:
    async def query() -> FleetStatus:
        client = await connect(stack.state.endpoints.temporal_address, ORCHESTRATOR_NAMESPACE)
        handle = client.get_workflow_handle(fleet_id(stack.state.stack_id))
        status: FleetStatus = await handle.query("status", result_type=FleetStatus)
        return status

    return asyncio.run(query()).replicas


def workers(stack: StackClient) -> dict[str, Any]:
    answer = stack.orchestrator.get(
        "/v1/workers", headers={"Authorization": stack.state.orchestrator_secret}
    )
    listing: dict[str, Any] = answer.json()
    return listing


def assert_replicas_listen_where_their_gpu_worker_says(stack: StackClient) -> None:
    """The GPU worker reports its no-egress network, and the orchestrator lets capabilities point
    there (and at loopback, and nowhere else by default): no-egress replicas registered."""
    reported = [
        ipaddress.ip_network(cidr) for w in workers(stack)["workers"] for cidr in w["networks"]
    ]
    network = docker.from_env().networks.get("tollway-internal")
    subnets = [ipaddress.ip_network(c["Subnet"]) for c in network.attrs["IPAM"]["Config"]]
    assert subnets and set(subnets) <= set(reported)
    listing = stack.orchestrator.get(
        "/v1/replicas", headers={"Authorization": stack.state.orchestrator_secret}
    ).json()
    hosts = [
        ipaddress.ip_address(str(httpx.URL(r["url"]).host))
        for replicas in listing["replicas"].values()
        for r in replicas
    ]
    internal = [host for host in hosts if not host.is_loopback]
    assert internal, listing
    assert all(any(host in net for net in reported) for host in internal), (hosts, reported)


def replica_closed(stack: StackClient, workflow_id: str) -> bool:
    async def describe() -> bool:
        client = await connect(stack.state.endpoints.temporal_address, ORCHESTRATOR_NAMESPACE)
        described = await client.get_workflow_handle(workflow_id).describe()
        return described.status is not None and described.status.name == "COMPLETED"

    return asyncio.run(describe())


def test_a_lost_gpu_worker_has_its_replicas_placed_again(
    stack: StackClient, tmp_path: Path
) -> None:
    """A second GPU worker (reporting every second) disappears with its container, as a lost
    host would: its replica is placed on the first worker and the capability serves on; when
    the worker comes back, the old replica's stop runs and its workflow ends: no orphan."""
    config = json.loads((Path(stack.state.directory) / "gpu.json").read_text())
    config.update(
        worker_id="gpu-1", metrics_port=None, report_every_seconds=1.0, data_dir=str(tmp_path)
    )
    (tmp_path / "gpu-1.json").write_text(json.dumps(config))
    argv = [sys.executable, "-m", "tollway", "gpu-worker", "--config", str(tmp_path / "gpu-1.json")]
    log = tmp_path / "gpu-1.log"
    pid = processes.spawn(argv, log)
    try:
        wait_for(lambda: "gpu-1" in [w["worker_id"] for w in workers(stack)["workers"]], "gpu-1")
        wait_for(lambda: workers(stack)["settled"], "orchestrator settled", timeout=90)
        spread = {
            "name": "spread",
            "image": "tollway/echo:latest",
            "replicas": 2,
            "price": {"amount": 10**9, "unit": "request"},
        }
        file = declaration(tmp_path, [spread])
        asyncio.run(serve_file(stack.state, file, Console(stderr=True), 180, recheck_seconds=1))
        placed = {r.worker_id: r.workflow_id for r in fleet_replicas(stack)}
        assert sorted(placed) == ["gpu-0", "gpu-1"]  # spread across the workers

        lost_replica = placed["gpu-1"]
        os.kill(pid, signal.SIGKILL)
        for container_id, replica in fleet_containers(stack).items():
            if replica == lost_replica:
                docker.from_env().containers.get(container_id).kill()
        moved = wait_for(
            lambda: [r.worker_id for r in fleet_replicas(stack)] == ["gpu-0", "gpu-0"],
            "replica not placed again",
        )
        wait_for(lambda: replicas_of(stack, "spread") == 2, "both replicas registered")
        print(f"\nreplica of the lost worker placed again after {moved:.1f} s")
        answer = stack.gateway.post("/v1/jobs", json={"capability": "spread", "input": [1]})
        assert stack.wait_job(answer.json()["job_id"])["state"] == "succeeded"
        assert not replica_closed(stack, lost_replica)  # its stop waits for its worker

        pid = processes.spawn(argv, log)  # the host is back
        wait_for(lambda: replica_closed(stack, lost_replica), "old replica's workflow open")
        assert lost_replica not in fleet_containers(stack).values()

        serve(stack, declaration(tmp_path, []))
        wait_for(lambda: not fleet_containers(stack), "fleet containers left")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
