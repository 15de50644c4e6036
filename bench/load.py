"""Throughput and CPU cost of the job path on the embedded stack: N echo jobs at concurrency C
straight to the container, through the gateway's synchronous `/process/request`, and through
the durable `/v1/jobs` (submit, poll, fetch the output), each beside the others in one run.

Prints jobs/s, latency p50/p95/p99 and, for the gateway paths, CPU milliseconds per job of every
process of the stack, read from /proc before and after (the container's own CPU is not counted).
Brings up a stack of its own in a temporary folder and stops it after, unless `--dir` names a
running one (`tollway up`). `--postgres` runs that stack's gateway database on a PostgreSQL
server of its own (else SQLite); `--budget` gives the default tenant a budget, so every job
holds and settles its cost. Every job is sent with the tenant's key, so keys and rate limits are
always in the path (the quotas are raised far above the load).

    .venv/bin/python bench/load.py [--jobs 200] [--concurrency 16] [--dir .tollway]
                                   [--postgres] [--budget]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from rich.console import Console

from tollway.devnet.down import bring_down
from tollway.devnet.postgres import PostgresServer
from tollway.devnet.state import StackState
from tollway.devnet.up import Ports, bring_up
from tollway.netutil import free_port

TICKS = os.sysconf("SC_CLK_TCK")
Job = Callable[[httpx.AsyncClient, int], Awaitable[None]]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def stack_cpu(state: StackState) -> dict[str, float]:
    return {name: cpu_seconds(record.pid) for name, record in state.processes.items()}


async def direct(http: httpx.AsyncClient, n: int, url: str) -> None:
    answer = await http.post(f"{url}/bench", content=b"ping %d" % n)
    assert answer.status_code == 200 and answer.content == b"ping %d" % n, answer.text


async def sync_job(http: httpx.AsyncClient, n: int) -> None:
    header = base64.b64encode(b'{"capability": "echo", "timeout_seconds": 60}').decode()
    answer = await http.post(
        "/process/request/bench", headers={"Livepeer": header}, content=b"ping %d" % n
    )
    assert answer.status_code == 200 and answer.content == b"ping %d" % n, answer.text


async def durable_job(http: httpx.AsyncClient, n: int) -> None:
    answer = await http.post("/v1/jobs", json={"capability": "echo", "input": {"n": n}})
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["job_id"]
    while True:
        state = (await http.get(f"/v1/jobs/{job_id}")).json()["state"]
        if state in ("succeeded", "rejected", "failed"):
            break
        await asyncio.sleep(0.01)
    assert state == "succeeded", state
    assert (await http.get(f"/v1/jobs/{job_id}/output")).json() == {"n": n}


async def drive(http: httpx.AsyncClient, job: Job, jobs: int, concurrency: int) -> list[float]:
    """Run `jobs` jobs, `concurrency` at a time; each job's latency in ms."""
    latencies: list[float] = []
    next_job = iter(range(jobs))

    async def lane() -> None:
        for n in next_job:
            started = time.perf_counter()
            await job(http, n)
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return latencies


def percentile(sorted_ms: list[float], share: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(len(sorted_ms) * share))]


async def measure(
    name: str,
    http: httpx.AsyncClient,
    job: Job,
    args: argparse.Namespace,
    state: StackState | None,
) -> None:
    await drive(http, job, min(args.jobs, 2 * args.concurrency), args.concurrency)  # warm up
    before = stack_cpu(state) if state else {}
    started = time.perf_counter()
    latencies = sorted(await drive(http, job, args.jobs, args.concurrency))
    seconds = time.perf_counter() - started
    line = (
        f"{name:<30} {args.jobs / seconds:7.1f} jobs/s   p50 {statistics.median(latencies):6.1f}"
        f"   p95 {percentile(latencies, 0.95):6.1f}   p99 {percentile(latencies, 0.99):6.1f} ms"
    )
    if state:
        after = stack_cpu(state)
        per_job = {p: (after[p] - before.get(p, 0.0)) * 1000 / args.jobs for p in after}
        busy = ", ".join(f"{p} {ms:.1f}" for p, ms in sorted(per_job.items(), key=lambda i: -i[1]))
        line += f"\n{'':<30} CPU {sum(per_job.values()):.1f} ms/job: {busy}"
    print(line, flush=True)


async def run(state: StackState, args: argparse.Namespace) -> None:
    url = state.replica_url()
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=64)
    headers = {"Authorization": f"Bearer {state.api_key}"}
    if args.budget:
        await set_budget(state)
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"{args.jobs} echo jobs at concurrency {args.concurrency}, {os.cpu_count()} CPUs, "
        f"gateway database {database}{', a budget on the tenant' if args.budget else ''}"
    )
    async with (
        httpx.AsyncClient(limits=limits, timeout=120) as plain,
        httpx.AsyncClient(
            base_url=state.endpoints.gateway_api, headers=headers, limits=limits, timeout=120
        ) as gateway,
    ):
        await measure("direct to the container", plain, lambda h, n: direct(h, n, url), args, None)
        await measure("sync (/process/request)", gateway, sync_job, args, state)
        await measure("durable (/v1/jobs)", gateway, durable_job, args, state)


async def set_budget(state: StackState) -> None:
    admin = {"Authorization": f"Bearer {state.admin_key}"}
    budget = {"tenant": "default", "period": "day", "amount_wei": str(10**24)}
    async with httpx.AsyncClient(base_url=state.endpoints.gateway_api, headers=admin) as http:
        answer = await http.post("/v1/budgets", json=budget)
        assert answer.status_code == 201, answer.text


UNTHROTTLED = {
    "TOLLWAY_GATEWAY_RATE_LIMIT_CREATE_PER_MINUTE": str(10**7),
    "TOLLWAY_GATEWAY_RATE_LIMIT_READ_PER_MINUTE": str(10**7),
    "TOLLWAY_GATEWAY_JOBS_IN_FLIGHT_PER_KEY": str(10**6),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--dir", type=Path, help="a running stack's folder (default: start one)")
    parser.add_argument("--postgres", action="store_true", help="the gateway on PostgreSQL")
    parser.add_argument("--budget", action="store_true", help="a budget on the default tenant")
    args = parser.parse_args()
    console = Console(stderr=True)
    if args.dir is not None:
        state = StackState.load(args.dir.resolve())
        if state is None:
            raise SystemExit(f"no stack in {args.dir}: run `tollway up` first")
        asyncio.run(run(state, args))
        return
    with tempfile.TemporaryDirectory(prefix="tollway-load-") as folder:
        directory = Path(folder) / "stack"
        postgres = None
        if args.postgres:  # in a folder of its own: the `postgres` user cannot enter `folder`
            postgres = PostgresServer(Path(tempfile.mkdtemp(prefix="tollway-pg-")), free_port())
        os.environ.update(UNTHROTTLED)
        try:
            if postgres is not None:
                os.environ["TOLLWAY_GATEWAY_DATABASE_URL"] = postgres.start()
            asyncio.run(run(bring_up(directory, Ports.free(), console), args))
        finally:
            bring_down(directory, console)
            if postgres is not None:
                postgres.stop()
                shutil.rmtree(postgres.directory, ignore_errors=True)


if __name__ == "__main__":
    main()
