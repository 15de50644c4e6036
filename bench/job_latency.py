"""Job latency through a running stack (`tollway up` first): N sequential echo jobs straight to
the container, via the durable `/v1/jobs` API and via Livepeer's synchronous `/process/request`,
printing p50/p95/p99/max after 20 jobs of warm-up, and each gateway path's overhead over the
direct call.

    .venv/bin/python bench/job_latency.py [--jobs 50] [--dir .tollway]
"""

from __future__ import annotations

import argparse
import base64
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tollway.devnet.state import StackState


def durable_job(http: httpx.Client) -> None:
    answer = http.post("/v1/jobs", json={"capability": "echo", "input": {"x": 1}})
    job_id = answer.json()["job_id"]
    while http.get(f"/v1/jobs/{job_id}").json()["state"] not in ("succeeded", "failed"):
        time.sleep(0.005)
    assert http.get(f"/v1/jobs/{job_id}/output").json() == {"x": 1}


def livepeer_job(http: httpx.Client) -> None:
    header = base64.b64encode(b'{"capability": "echo", "timeout_seconds": 60}').decode()
    answer = http.post("/process/request/bench", headers={"Livepeer": header}, content=b"ping")
    assert answer.status_code == 200 and answer.content == b"ping", answer.text


def percentile(sorted_ms: list[float], share: float) -> float:
    return sorted_ms[max(0, int(len(sorted_ms) * share) - 1)]


WARM_UP_JOBS = 20
"""Run first and not counted: a fresh stack's first jobs buy credit and fill caches."""


def direct_call(http: httpx.Client) -> None:
    answer = http.post("/bench", content=b"ping")
    assert answer.status_code == 200 and answer.content == b"ping", answer.text


def measure(name: str, run: Callable[[], None], jobs: int) -> list[float]:
    for _ in range(WARM_UP_JOBS):
        run()
    times = []
    for _ in range(jobs):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = percentile(times, 0.95)
    p99 = percentile(times, 0.99)
    print(
        f"{name:<28} n={jobs:<4} p50 {statistics.median(times):6.1f} ms   "
        f"p95 {p95:6.1f} ms   p99 {p99:6.1f} ms   max {times[-1]:6.1f} ms"
    )
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--dir", type=Path, default=Path(".tollway"))
    args = parser.parse_args()
    state = StackState.load(args.dir.resolve())
    if state is None:
        raise SystemExit(f"no stack in {args.dir}: run `tollway up` first")
    headers = {"Authorization": f"Bearer {state.api_key}"}
    with httpx.Client(base_url=state.replica_url(), timeout=60) as container:
        direct = measure("direct to the container", lambda: direct_call(container), args.jobs)
    with httpx.Client(base_url=state.endpoints.gateway_api, headers=headers, timeout=60) as http:
        durable = measure("durable job (/v1/jobs)", lambda: durable_job(http), args.jobs)
        sync = measure("sync job (/process/request)", lambda: livepeer_job(http), args.jobs)
    for name, times in (("durable", durable), ("sync", sync)):
        print(
            f"{name} overhead over the direct call: "
            f"p50 {statistics.median(times) - statistics.median(direct):.1f} ms, "
            f"p99 {percentile(times, 0.99) - percentile(direct, 0.99):.1f} ms"
        )


if __name__ == "__main__":
    main()
