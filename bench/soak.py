"""A soak of the embedded stack: a steady mixed load for a bounded time (default 30 minutes),
so that leaks and slow failures show where a test's minutes cannot.

The load: durable jobs (`POST /v1/jobs` with `Prefer: wait`, then the output) and synchronous
ones (`/process/request`) at a steady rate; one live stream through the gateway the whole time
(a segment a second through a pytrickle stream worker, read back); the orchestrator redeeming
the winning tickets all of it pays with (every devnet ticket wins); and rounds of `--round`
blocks (a block a second), so the reward schedule calls reward() in each round that starts.

Prints a progress line every `--report-every` seconds, then throughput, latency, errors by
kind, tickets and rounds, and each process's memory (RSS) and open files at the start (after
a warm-up) and at the end, with the growth per hour, so that leaks show.

    .venv/bin/python bench/soak.py [--minutes 30] [--rate 4] [--round 600]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import docker
import httpx
from prometheus_client.parser import text_string_to_metric_families
from pytrickle.publisher import TricklePublisher
from pytrickle.subscriber import TrickleSubscriber
from rich.console import Console

from tollway.devnet import processes
from tollway.devnet.down import bring_down
from tollway.devnet.state import StackState
from tollway.devnet.up import Ports, bring_up
from tollway.netutil import free_port

WORKER = Path(__file__).resolve().parent.parent / "tests" / "e2e" / "stream_worker.py"
STREAM_CAPABILITY = "soak-stream"
SYNC_SHARE = 4
"""One job in this many goes through `/process/request`, the rest through `/v1/jobs`."""
MAX_IN_FLIGHT = 64
COUNTERS = (
    "tollway_tickets_sent_total",
    "tollway_tickets_won_total",
    "tollway_tickets_redeemed_total",
    "tollway_redemption_errors_total",
    "tollway_stream_swaps_total",
)
ENVIRONMENT = {
    "TOLLWAY_GATEWAY_RATE_LIMIT_CREATE_PER_MINUTE": str(10**7),
    "TOLLWAY_GATEWAY_RATE_LIMIT_READ_PER_MINUTE": str(10**7),
    "TOLLWAY_GATEWAY_JOBS_IN_FLIGHT_PER_KEY": str(10**6),
    "TOLLWAY_GATEWAY_NETWORK_REFRESH_SECONDS": "2",
    "TOLLWAY_ORCH_REWARD_EVERY_SECONDS": "20",
}


@dataclass
class Sample:
    rss_mib: float
    open_files: int


@dataclass
class Tally:
    jobs: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    segments: int = 0
    segment_errors: Counter[str] = field(default_factory=Counter)
    streams_started: int = 0
    rounds: dict[int, int] = field(default_factory=dict)
    """Each round seen, with the last round the orchestrator had called reward() in then."""

    def error(self, kind: str) -> None:
        self.errors[kind] += 1


def process_sample(pid: int) -> Sample | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        files = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    rss_kib = next(int(line.split()[1]) for line in status.splitlines() if line[:6] == "VmRSS:")
    return Sample(rss_kib / 1024, files)


def container_samples(stack_id: str) -> dict[str, Sample]:
    """Memory of the stack's containers, as their cgroup counts it (open files: not known)."""
    client = docker.from_env()
    try:
        found = client.containers.list(filters={"label": f"tollway.stack={stack_id}"})
        return {
            f"container {c.name}": Sample(
                c.stats(stream=False)["memory_stats"].get("usage", 0) / 2**20, 0
            )
            for c in found
        }
    finally:
        client.close()


def sample_all(pids: dict[str, int], stack_id: str) -> dict[str, Sample]:
    samples = {name: s for name, pid in pids.items() if (s := process_sample(pid)) is not None}
    return samples | container_samples(stack_id)


async def durable_job(http: httpx.AsyncClient, n: int, tally: Tally) -> None:
    started = time.perf_counter()
    answer = await http.post(
        "/v1/jobs", json={"capability": "echo", "input": {"n": n}}, headers={"Prefer": "wait=60"}
    )
    if answer.status_code != 200:
        tally.error(f"durable: HTTP {answer.status_code}")
        return
    job = answer.json()["job"]
    if job["state"] != "succeeded":
        tally.error(f"durable: {job['state']}")
        return
    output = await http.get(f"/v1/jobs/{job['job_id']}/output")
    if output.status_code != 200 or output.json() != {"n": n}:
        tally.error(f"durable output: HTTP {output.status_code}")
        return
    tally.latencies_ms.append((time.perf_counter() - started) * 1000)
    tally.jobs["durable"] += 1


async def sync_job(http: httpx.AsyncClient, n: int, tally: Tally) -> None:
    header = base64.b64encode(b'{"capability": "echo", "timeout_seconds": 60}').decode()
    answer = await http.post(
        "/process/request/soak", headers={"Livepeer": header}, content=b"soak %d" % n
    )
    if answer.status_code != 200 or answer.content != b"soak %d" % n:
        tally.error(f"sync: HTTP {answer.status_code}")
        return
    tally.jobs["sync"] += 1


async def job_load(http: httpx.AsyncClient, rate: float, until: float, tally: Tally) -> None:
    """Start a job every 1/rate seconds until `until`, at most MAX_IN_FLIGHT at once."""
    slots = asyncio.Semaphore(MAX_IN_FLIGHT)
    running: set[asyncio.Task[None]] = set()

    async def one(n: int) -> None:
        try:
            await (sync_job if n % SYNC_SHARE == 0 else durable_job)(http, n, tally)
        except Exception as exc:  # a soak counts what goes wrong and carries on
            tally.error(f"job: {type(exc).__name__}")
        finally:
            slots.release()

    n = 0
    next_start = time.monotonic()
    while next_start < until:
        await asyncio.sleep(max(0.0, next_start - time.monotonic()))
        await slots.acquire()
        task = asyncio.create_task(one(n))
        running.add(task)
        task.add_done_callback(running.discard)
        n += 1
        next_start += 1 / rate
    await asyncio.gather(*running)


async def stream_load(gateway: str, until: float, tally: Tally) -> None:
    """One stream through the gateway, a segment a second read back; restarted if it ends."""
    header = base64.b64encode(
        json.dumps({"capability": STREAM_CAPABILITY, "timeout_seconds": 60}).encode()
    ).decode()
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as http:
        while time.monotonic() < until:
            started = await http.post(
                "/process/stream/start", headers={"Livepeer": header}, json={"params": "{}"}
            )
            if started.status_code != 200:
                tally.segment_errors[f"start: HTTP {started.status_code}"] += 1
                await asyncio.sleep(5)
                continue
            tally.streams_started += 1
            urls = started.json()
            try:
                await stream_segments(urls["publish_url"], urls["subscribe_url"], until, tally)
            except Exception as exc:  # any end of a stream is counted, then it starts again
                tally.segment_errors[f"stream: {type(exc).__name__}"] += 1
            finally:
                with contextlib.suppress(httpx.HTTPError):
                    await http.post(urls["stop_url"])


async def stream_segments(publish_url: str, subscribe_url: str, until: float, tally: Tally) -> None:
    async with (
        TricklePublisher(publish_url, "video/MP2T") as publisher,
        TrickleSubscriber(subscribe_url, start_seq=0) as subscriber,
    ):
        n = 0
        while time.monotonic() < until:
            body = (b"G" + b"%0187d" % n) * 64  # MPEG-TS-shaped: a sync byte every 188 bytes
            async with await publisher.next() as writer:
                await writer.write(body)
            segment = await asyncio.wait_for(subscriber.next(), 20)
            if segment is None:
                raise EOFError("the stream's output ended")
            read = b""
            while chunk := await asyncio.wait_for(segment.read(), 20):
                read += chunk
            if read == body.upper():
                tally.segments += 1
            else:
                tally.segment_errors["segment garbled"] += 1
            n += 1
            await asyncio.sleep(1)


async def watch_rounds(state: StackState, until: float, tally: Tally) -> None:
    secret = {"Authorization": state.orchestrator_secret}
    async with httpx.AsyncClient(base_url=state.endpoints.orchestrator_api, timeout=30) as http:
        while time.monotonic() < until:
            with contextlib.suppress(httpx.HTTPError):
                answer = await http.get("/v1/orchestrator", headers=secret)
                if answer.status_code == 200:
                    info = answer.json()
                    tally.rounds[info["round"]] = info["transcoder"]["last_reward_round"]
            await asyncio.sleep(10)


async def counters(state: StackState) -> Counter[str]:
    """COUNTERS summed over every role's /metrics."""
    endpoints = state.endpoints
    urls = [
        endpoints.gateway_metrics,
        endpoints.orchestrator_metrics,
        endpoints.gateway_worker_metrics,
        endpoints.orchestrator_worker_metrics,
        endpoints.gpu_worker_metrics,
    ]
    totals: Counter[str] = Counter()
    async with httpx.AsyncClient(timeout=30) as http:
        for url in urls:
            text = (await http.get(url)).text
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name in COUNTERS:
                        totals[sample.name] += int(sample.value)
    return totals


def start_stream_worker(state: StackState) -> int:
    port = free_port()
    log = Path(state.directory) / "logs" / "soak-stream-worker.log"
    pid = processes.spawn([sys.executable, str(WORKER), "--port", str(port)], log)
    processes.wait_until(lambda: processes.port_open(port), "stream worker", timeout=30)
    registration = {
        "name": STREAM_CAPABILITY,
        "url": f"http://127.0.0.1:{port}",
        "capacity": 2,
        "price_per_unit": 10**9,
    }
    answer = httpx.post(
        f"{state.endpoints.orchestrator_api}/capability/register",
        json=registration,
        headers={"Authorization": state.orchestrator_secret},
    )
    answer.raise_for_status()
    return pid


async def wait_listed(gateway: str, capability: str) -> None:
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as http:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            view = (await http.get("/v1/marketplace")).json()
            if view["capabilities"].get(capability, {}).get("offers"):
                return
            await asyncio.sleep(0.5)
    raise SystemExit(f"the gateway never listed {capability}")


def progress(started: float, tally: Tally, last: list[int]) -> str:
    done = sum(tally.jobs.values())
    window = done - last[0]
    last[0] = done
    latest_round = max(tally.rounds, default=0)
    return (
        f"{(time.monotonic() - started) / 60:5.1f} min  jobs {done} (+{window}) "
        f"errors {sum(tally.errors.values())}  segments {tally.segments} "
        f"(errors {sum(tally.segment_errors.values())})  round {latest_round} "
        f"rewarded {tally.rounds.get(latest_round, 0) == latest_round}"
    )


async def soak(state: StackState, args: argparse.Namespace, pids: dict[str, int]) -> None:
    gateway = state.endpoints.gateway_api
    await wait_listed(gateway, STREAM_CAPABILITY)
    tally = Tally()
    headers = {"Authorization": f"Bearer {state.api_key}"}
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
    print(
        f"soak: {args.minutes} min, {args.rate} jobs/s (1 in {SYNC_SHARE} synchronous), one "
        f"stream, rounds of {args.round} blocks; warm-up {args.warmup} s; {os.cpu_count()} CPUs",
        flush=True,
    )
    started = time.monotonic()
    until = started + args.minutes * 60
    async with httpx.AsyncClient(
        base_url=gateway, headers=headers, limits=limits, timeout=120
    ) as http:
        work = [
            asyncio.create_task(job_load(http, args.rate, until, tally)),
            asyncio.create_task(stream_load(gateway, until, tally)),
            asyncio.create_task(watch_rounds(state, until, tally)),
        ]
        await asyncio.sleep(args.warmup)
        first = sample_all(pids, state.stack_id)
        first_at = time.monotonic()
        before = await counters(state)
        jobs_before = sum(tally.jobs.values())
        last = [jobs_before]
        while time.monotonic() < until:
            await asyncio.sleep(min(args.report_every, max(0.0, until - time.monotonic())))
            print(progress(started, tally, last), flush=True)
        await asyncio.gather(*work)
    hours = (time.monotonic() - first_at) / 3600
    last_sample = sample_all(pids, state.stack_id)
    after = await counters(state)
    report(tally, first, last_sample, hours, jobs_before, before, after)


def report(
    tally: Tally,
    first: dict[str, Sample],
    last: dict[str, Sample],
    hours: float,
    jobs_before: int,
    before: Counter[str],
    after: Counter[str],
) -> None:
    done = sum(tally.jobs.values())
    errors = sum(tally.errors.values())
    latencies = sorted(tally.latencies_ms) or [0.0]
    print(
        f"\njobs: {done} ({dict(tally.jobs)}), {(done - jobs_before) / (hours * 3600):.2f} jobs/s "
        f"after the warm-up; errors {errors} ({errors / max(1, done + errors):.3%})"
        f"{': ' + str(dict(tally.errors)) if errors else ''}"
    )
    print(
        f"durable job latency: p50 {statistics.median(latencies):.0f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1]:.0f} ms"
    )
    print(
        f"stream: {tally.segments} segments read back, {tally.streams_started} start(s), "
        f"errors {dict(tally.segment_errors) or 0}"
    )
    delta = {name.removeprefix("tollway_"): after[name] - before[name] for name in COUNTERS}
    print(f"after the warm-up: {delta}")
    rewarded = sorted(r for r, last_reward in tally.rounds.items() if last_reward == r)
    print(f"rounds seen {sorted(tally.rounds)}, reward() called in {rewarded}")
    print(f"\n{'process':<34}{'RSS start':>10}{'RSS end':>10}{'MiB/h':>9}{'files':>8}{'files':>7}")
    for name in sorted(first):
        a, b = first[name], last.get(name)
        if b is None:
            print(f"{name:<34}{a.rss_mib:>10.1f}{'gone':>10}")
            continue
        print(
            f"{name:<34}{a.rss_mib:>10.1f}{b.rss_mib:>10.1f}"
            f"{(b.rss_mib - a.rss_mib) / hours:>+9.1f}{a.open_files:>8}{b.open_files:>7}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=4, help="jobs started a second")
    parser.add_argument("--round", type=int, default=600, help="blocks a round (>= 600)")
    parser.add_argument("--warmup", type=float, default=60, help="seconds before the first sample")
    parser.add_argument("--report-every", type=float, default=60)
    args = parser.parse_args()
    logging.getLogger("pytrickle").setLevel(logging.WARNING)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    os.environ.update(ENVIRONMENT)
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="tollway-soak-") as folder:
        directory = Path(folder) / "stack"
        worker = None
        try:
            state = bring_up(directory, Ports.free(), console, round_length=args.round)
            worker = start_stream_worker(state)
            pids = {name: record.pid for name, record in state.processes.items()}
            pids["stream-worker"] = worker
            asyncio.run(soak(state, args, pids))
        finally:
            if worker is not None:
                processes.stop(worker)
            bring_down(directory, console)


if __name__ == "__main__":
    main()
