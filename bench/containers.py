"""Container runtime figures on the embedded stack (real Temporal, anvil, Docker, processes):

- cold start: `tollway serve` of a one-replica echo declaration until the first paid answer
  through the orchestrator (placement, container start, health, registration, payment);
- warm overhead: the same small request through the orchestrator (signed job header, credit
  check, capacity slot, proxy) against a direct call to the container, sequential, keep-alive;
- the same two figures for a Triton replica of the torch filter (examples/torch-filter): cold
  start until the first filtered image, and the orchestrator's overhead against calling Triton
  directly with the same tritonclient encoding.

    .venv/bin/python -m bench.containers [--cold-runs 3] [--requests 500]

Goals (issue 5): cold start <= 2 s for echo; warm overhead <= 3 ms p50.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console

from tests.e2e.stack_client import StackClient
from tollway.byoc import triton_wire
from tollway.cli.serve import serve_file
from tollway.devnet.down import bring_down
from tollway.devnet.up import Ports, bring_up
from tollway.payments.sender import NonceStore, TicketSender
from tollway.protocol.header import JobRequest
from tollway.protocol.payment import TicketParams
from tollway.protocol.price import Price

BODY = b'{"hello": "bench"}'
FILTER_DIR = Path(__file__).resolve().parents[1] / "examples" / "torch-filter"
IMAGE = (FILTER_DIR / "sample.png").read_bytes()


def declare(directory: Path, name: str, **source: object) -> Path:
    """A one-replica declaration of `name`: the echo image unless `source` says otherwise."""
    file = directory / f"{name}.json"
    capability = {
        "name": name,
        **(source or {"image": "tollway/echo:latest"}),
        "capacity": 4,
        "price": {"amount": 10**9, "unit": "request"},
    }
    file.write_text(json.dumps({"capabilities": [capability]}))
    return file


def paid_headers(stack: StackClient, sender: TicketSender, name: str) -> dict[str, str]:
    token = stack.token(name)
    batch = sender.batch(
        TicketParams.from_json(token["ticket_params"]), Price.from_json(token["price"]), 1
    )
    job = JobRequest(capability=name, timeout_seconds=30)
    return {
        "Livepeer": job.signed_by(stack.gateway_key, stack.gateway_address).encode(),
        "Livepeer-Payment": batch.payment.encode(),
    }


def cold_start(
    stack: StackClient, sender: TicketSender, file: Path, name: str, body: bytes = BODY
) -> float:
    """Seconds from handing `tollway serve` a declaration to the first paid answer."""
    quiet = Console(file=open("/dev/null", "w"))
    started = time.perf_counter()
    asyncio.run(serve_file(stack.state, file, quiet, wait_seconds=120))
    answer = stack.orchestrator.post(
        "/process/request/cold", headers=paid_headers(stack, sender, name), content=body
    )
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, answer.text
    return elapsed


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def warm_overhead(stack: StackClient, sender: TicketSender, name: str, requests: int) -> None:
    listed = stack.orchestrator.get(
        "/v1/replicas", headers={"Authorization": stack.state.orchestrator_secret}
    )
    container_url = listed.json()["replicas"][name][0]["url"]
    headers = paid_headers(stack, sender, name)
    first = stack.orchestrator.post("/process/request/warm", headers=headers, content=BODY)
    assert first.status_code == 200, first.text
    headers.pop("Livepeer-Payment")  # the credit bought above pays for the rest
    timings: dict[str, list[float]] = {"direct": [], "orchestrator": []}
    with httpx.Client(timeout=30) as http:
        for _ in range(requests):
            for path, url, extra in (
                ("direct", f"{container_url}/warm", {}),
                ("orchestrator", f"{stack.state.endpoints.orchestrator_api}/process/request/warm",
                 headers),
            ):  # fmt: skip
                started = time.perf_counter()
                answer = http.post(url, content=BODY, headers=extra)
                timings[path].append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200 and answer.content == BODY, answer.text
    report(
        f"warm, {requests} sequential requests of {len(BODY)} bytes (ms):",
        ("direct to container", timings["direct"]),
        timings["orchestrator"],
        " (goal <= 3 ms)",
    )


def report(
    title: str, direct: tuple[str, list[float]], through: list[float], goal: str = ""
) -> None:
    """p50 and p95 of a direct call and of the same call through the orchestrator (ms)."""
    print(title)
    for label, values in (direct, ("through orchestrator", through)):
        print(
            f"  {label:<22} p50 {statistics.median(values):6.2f}  "
            f"p95 {percentile(values, 0.95):6.2f}"
        )
    overhead = statistics.median(through) - statistics.median(direct[1])
    print(f"  overhead p50 {overhead:.2f} ms{goal}")


async def triton_warm(stack: StackClient, sender: TicketSender, name: str, requests: int) -> None:
    """The filter through the orchestrator against Triton called directly, same encoding."""
    listed = stack.orchestrator.get(
        "/v1/replicas", headers={"Authorization": stack.state.orchestrator_secret}
    )
    triton_url = listed.json()["replicas"][name][0]["url"]
    headers = paid_headers(stack, sender, name)
    orchestrator = f"{stack.state.endpoints.orchestrator_api}/process/request/"
    timings: dict[str, list[float]] = {"direct": [], "orchestrator": []}
    async with httpx.AsyncClient(timeout=30) as http:
        first = await http.post(orchestrator, headers=headers, content=IMAGE)
        assert first.status_code == 200, first.text
        headers.pop("Livepeer-Payment")
        for _ in range(requests):
            started = time.perf_counter()
            answer = await triton_wire.infer(http, triton_url, name, IMAGE, 30)
            timings["direct"].append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, answer.text
            started = time.perf_counter()
            answer = await http.post(orchestrator, headers=headers, content=IMAGE)
            timings["orchestrator"].append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200 and answer.content == first.content, answer.text
    report(
        f"Triton torch filter, {requests} sequential {len(IMAGE)}-byte PNGs (ms):",
        ("direct to Triton", timings["direct"]),
        timings["orchestrator"],
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="tollway-bench-") as tmp:
        directory = Path(tmp)
        state = bring_up(directory / "stack", Ports.free(), console)
        stack = StackClient(state)
        sender = TicketSender(
            stack.gateway_key, stack.gateway_address, NonceStore(directory / "nonces.db")
        )
        try:
            with stack.chain_frozen():
                colds = [
                    cold_start(stack, sender, declare(directory, f"bench-{run}"), f"bench-{run}")
                    for run in range(args.cold_runs)
                ]
                print("cold start, declaration -> first paid answer (s): " + ", ".join(
                    f"{c:.2f}" for c in colds
                ) + f"; median {statistics.median(colds):.2f} (goal <= 2 s)")  # fmt: skip
                warm_overhead(stack, sender, f"bench-{args.cold_runs - 1}", args.requests)
                triton = declare(
                    directory, "bench-triton", triton={"model": str(FILTER_DIR / "triton_model.py")}
                )
                cold = cold_start(stack, sender, triton, "bench-triton", IMAGE)
                print(f"Triton cold start, declaration -> first filtered image: {cold:.2f} s")
                asyncio.run(triton_warm(stack, sender, "bench-triton", args.requests))
        finally:
            stack.close()
            bring_down(directory / "stack", console)


if __name__ == "__main__":
    main()
