"""The orchestrator's GPU worker roster: where its workers' replicas may listen."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tollway.api.orchestrator.workers import GpuWorkerRoster
from tollway.byoc.gpus import GpuInventory, WorkerReport


def report(worker_id: str, networks: list[str]) -> WorkerReport:
    return WorkerReport(
        worker_id=worker_id,
        task_queue=f"q-{worker_id}",
        inventory=GpuInventory(gpus=[], cpu_only_reason="test"),
        networks=networks,
    )


def test_destinations_are_each_workers_host_and_networks() -> None:
    roster = GpuWorkerRoster(missed_reports=4)
    assert roster.destinations() == set()
    roster.report(report("gpu-0", ["172.18.0.0/16"]), "192.168.1.10")
    roster.report(report("gpu-1", ["172.20.0.5/16"]), None)
    assert roster.destinations() == {"192.168.1.10", "172.18.0.0/16", "172.20.0.0/16"}
    roster.report(report("gpu-0", []), "192.168.1.11")  # moved host, network gone
    assert roster.destinations() == {"192.168.1.11", "172.20.0.0/16"}


def test_a_report_with_a_network_that_is_no_cidr_is_refused() -> None:
    with pytest.raises(ValidationError, match="networks"):
        report("gpu-0", ["not-a-network"])
