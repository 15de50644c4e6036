"""Job latency through a running stack (`tollway up` first): N sequential echo jobs via the
durable `/v1/jobs` API and via Livepeer's synchronous `/process/request`, printing
p50/p95/p99/max after 20 jobs of warm-up.

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


WARM_UP_JOBS = 20
"""Run first and not counted: a fresh stack's first jobs buy credit and fill caches."""


def measure(name: str, run: Callable[[], None], jobs: int) -> None:
    for _ in range(WARM_UP_JOBS):
        run()
    times = []
    for _ in range(jobs):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[max(0, int(len(times) * 0.95) - 1)]
    p99 = times[max(0, int(len(times) * 0.99) - 1)]
    print(
        f"{name:<28} n={jobs:<4} p50 {statistics.median(times):6.1f} ms   "
        f"p95 {p95:6.1f} ms   p99 {p99:6.1f} ms   max {times[-1]:6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--dir", type=Path, default=Path(".tollway"))
    args = parser.parse_args()
    state = StackState.load(args.dir.resolve())
    if state is None:
        raise SystemExit(f"no stack in {args.dir}: run `tollway up` first")
    headers = {"Authorization": f"Bearer {state.api_key}"}
    with httpx.Client(base_url=state.endpoints.gateway_api, headers=headers, timeout=60) as http:
        measure("durable job (/v1/jobs)", lambda: durable_job(http), args.jobs)
        measure("sync job (/process/request)", lambda: livepeer_job(http), args.jobs)


if __name__ == "__main__":
    main()
