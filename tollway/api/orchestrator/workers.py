"""The GPU workers that report to this orchestrator, and which of them are still alive.

Capabilities may point at the workers' hosts and container networks (`destinations`).
A worker that missed `missed_reports` of its reports is lost, and the fleet places its replicas
elsewhere. Kept in memory, so after a restart no worker counts as lost until every live one
has had time to report (`settled`).
"""

from __future__ import annotations

import time

from tollway.byoc.gpus import DEFAULT_REPORT_SECONDS, WorkerReport

__all__ = ["GpuWorkerRoster"]


class GpuWorkerRoster:
    def __init__(self, missed_reports: int) -> None:
        self.missed_reports = missed_reports
        self.workers: dict[str, WorkerReport] = {}
        """GPU workers by id, as they last reported themselves."""
        self.seen: dict[str, float] = {}
        """When each GPU worker last reported (time.monotonic())."""
        self.hosts: dict[str, str] = {}
        """The address each GPU worker last reported from."""
        self.listening_since = time.monotonic()

    def report(self, report: WorkerReport, host: str | None) -> None:
        self.workers[report.worker_id] = report
        self.seen[report.worker_id] = time.monotonic()
        if host:
            self.hosts[report.worker_id] = host

    def destinations(self) -> set[str]:
        """Where GPU workers' replicas listen: each worker's host and its container networks
        (every worker heard from since start: one late report does not unregister anything)."""
        found = set(self.hosts.values())
        for report in self.workers.values():
            found.update(report.networks)
        return found

    def settled(self) -> bool:
        """Listening long enough that every live GPU worker has reported (after a restart, a
        worker not heard from yet is not yet lost)."""
        longest = max(
            [DEFAULT_REPORT_SECONDS, *(w.report_every_seconds for w in self.workers.values())]
        )
        waited = time.monotonic() - self.listening_since
        return waited >= self.missed_reports * longest

    def live(self) -> list[WorkerReport]:
        """The GPU workers that reported within `missed_reports` of their intervals."""
        now = time.monotonic()
        return [
            report
            for worker_id, report in sorted(self.workers.items())
            if now - self.seen[worker_id] <= self.missed_reports * report.report_every_seconds
        ]
