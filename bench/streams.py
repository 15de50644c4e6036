"""Per-segment latency of live streams on the embedded stack, for the floor of what tollway
adds: segments through the orchestrator's trickle server alone (publish, then read the same
channel), and through a stream started with `/ai/stream/start` on a stream worker (pytrickle's
clients: it reads each segment and publishes it back upper-cased), and through the gateway
(`/process/stream/start`: client -> gateway -> orchestrator -> worker -> back), timed from the
moment a segment is written to the moment its answer is read whole. The last line is what the
gateway adds. The output gap during a swap is measured by the two tests of
tests/e2e/test_live_effect.py (they print it). Brings up a stack of its own unless `--dir`
names one (`tollway up`).

    .venv/bin/python bench/streams.py [--segments 100] [--kib 64] [--dir .tollway]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from pytrickle.publisher import TricklePublisher
from pytrickle.subscriber import TrickleSubscriber
from rich.console import Console

from tollway.config import KeySettings
from tollway.devnet import processes
from tollway.devnet.down import bring_down
from tollway.devnet.state import StackState
from tollway.devnet.up import Ports, bring_up
from tollway.netutil import free_port
from tollway.payments.keys import load_key
from tollway.payments.sender import NonceStore, TicketSender
from tollway.protocol.header import JobRequest, encode_eth_address_header
from tollway.protocol.payment import TicketParams
from tollway.protocol.price import Price

WORKER = Path(__file__).resolve().parent.parent / "tests" / "e2e" / "stream_worker.py"
SEGMENT_GAP_SECONDS = 0.05


async def timed_segments(
    publish_url: str, subscribe_url: str, segments: int, size: int
) -> list[float]:
    """Milliseconds from writing each segment to reading its answer whole."""
    times = []
    async with (
        TricklePublisher(publish_url, "video/MP2T") as publisher,
        TrickleSubscriber(subscribe_url, start_seq=0) as subscriber,
    ):
        for n in range(segments):
            # MPEG-TS-shaped (a video channel takes no other): the sync byte every 188 bytes.
            body = (b"G" + b"%0187d" % n) * (size // 188)
            started = time.perf_counter()
            async with await publisher.next() as writer:
                await writer.write(body)
            segment = await asyncio.wait_for(subscriber.next(), 10)
            assert segment is not None
            read = b""
            while chunk := await segment.read():
                read += chunk
            times.append((time.perf_counter() - started) * 1000)
            assert read in (body, body.upper()), (len(read), len(body))
            await asyncio.sleep(SEGMENT_GAP_SECONDS)
    return times


def show(name: str, times: list[float]) -> None:
    times = sorted(times[5:])  # the first few open connections
    p95 = times[int(len(times) * 0.95) - 1]
    print(
        f"{name:<44} n={len(times):<4} p50 {statistics.median(times):6.1f} ms   p95 {p95:6.1f} ms"
    )


def gateway_identity(state: StackState) -> tuple[bytes, str]:
    keystore = Path(state.gateway_keystore)
    return load_key(
        KeySettings(keystore=keystore, password_file=keystore.with_name("keystore.password"))
    )


async def run(state: StackState, segments: int, size: int) -> None:
    orchestrator = state.endpoints.orchestrator_api
    secret = {"Authorization": state.orchestrator_secret}
    async with httpx.AsyncClient(base_url=orchestrator, timeout=30) as http:
        channel = f"bench-{uuid.uuid4().hex[:8]}"
        await http.post(f"/ai/trickle/{channel}", headers=secret)
        url = f"{orchestrator}/ai/trickle/{channel}"
        show(
            "trickle server alone (publish, read back)",
            await timed_segments(url, url, segments, size),
        )
        await http.delete(f"/ai/trickle/{channel}")

        port = free_port()
        log = Path(state.directory) / "logs" / "bench-stream-worker.log"
        pid = processes.spawn([sys.executable, str(WORKER), "--port", str(port)], log)
        try:
            processes.wait_until(lambda: processes.port_open(port), "stream worker", timeout=30)
            registration = {
                "name": "bench-stream",
                "url": f"http://127.0.0.1:{port}",
                "capacity": 1,
                "price_per_unit": 10**9,
            }
            (
                await http.post("/capability/register", json=registration, headers=secret)
            ).raise_for_status()
            key, address = gateway_identity(state)
            proof = encode_eth_address_header(key, address)
            token = (
                await http.get(
                    "/process/token",
                    headers={"Livepeer-Eth-Address": proof, "Livepeer-Capability": "bench-stream"},
                )
            ).json()
            with tempfile.TemporaryDirectory() as nonces:
                sender = TicketSender(key, address, NonceStore(Path(nonces) / "n.db"))
                batch = sender.batch(
                    TicketParams.from_json(token["ticket_params"]),
                    Price.from_json(token["price"]),
                    1,
                )
            stream_id = f"bench-{uuid.uuid4().hex[:8]}"
            job = JobRequest(
                capability="bench-stream",
                timeout_seconds=30,
                request=json.dumps({"stream_id": stream_id}),
            ).signed_by(key, address)
            started = await http.post(
                "/ai/stream/start",
                headers={"Livepeer": job.encode(), "Livepeer-Payment": batch.payment.encode()},
                json={"params": {}},
            )
            started.raise_for_status()
            direct = await timed_segments(
                started.headers["X-Publish-Url"],
                started.headers["X-Subscribe-Url"],
                segments,
                size,
            )
            show("orchestrator + stream worker (pytrickle)", direct)
            await http.post("/ai/stream/stop", headers={"Livepeer": job.encode()}, json={})
            through = await gateway_path(state, segments, size)
            show("gateway + orchestrator + stream worker", through)
            print(
                f"{'added by the gateway (p50)':<44} "
                f"{statistics.median(through[5:]) - statistics.median(direct[5:]):+.1f} ms"
            )
            await http.post("/capability/unregister", content="bench-stream", headers=secret)
        finally:
            processes.stop(pid)


async def gateway_path(state: StackState, segments: int, size: int) -> list[float]:
    """Segment times through a stream started at the gateway."""
    gateway = state.endpoints.gateway_api
    header = base64.b64encode(
        json.dumps({"capability": "bench-stream", "timeout_seconds": 60}).encode()
    ).decode()
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as http:
        deadline = time.monotonic() + 90
        while True:  # the gateway's market view lists the capability at its next refresh
            view = (await http.get("/v1/marketplace")).json()
            if view["capabilities"].get("bench-stream", {}).get("offers"):
                break
            if time.monotonic() > deadline:
                raise SystemExit("the gateway never listed bench-stream")
            await asyncio.sleep(0.5)
        started = await http.post(
            "/process/stream/start", headers={"Livepeer": header}, json={"params": "{}"}
        )
        started.raise_for_status()
        urls = started.json()
        try:
            return await timed_segments(urls["publish_url"], urls["subscribe_url"], segments, size)
        finally:
            await http.post(urls["stop_url"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=100)
    parser.add_argument("--kib", type=int, default=64)
    parser.add_argument("--dir", type=Path, help="a running stack's folder (default: start one)")
    args = parser.parse_args()
    # pytrickle's clients log each connection, and leave their closed sessions' tasks unread.
    logging.getLogger("pytrickle").setLevel(logging.WARNING)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    if args.dir is not None:
        state = StackState.load(args.dir.resolve())
        if state is None:
            raise SystemExit(f"no stack in {args.dir}: run `tollway up` first")
        asyncio.run(run(state, args.segments, args.kib * 1024))
        return
    os.environ.setdefault("TOLLWAY_GATEWAY_NETWORK_REFRESH_SECONDS", "2")
    with tempfile.TemporaryDirectory(prefix="tollway-streams-") as folder:
        directory = Path(folder) / "stack"
        try:
            state = bring_up(directory, Ports.free(), Console(stderr=True))
            asyncio.run(run(state, args.segments, args.kib * 1024))
        finally:
            bring_down(directory, Console(stderr=True))


if __name__ == "__main__":
    main()
