"""One real embedded stack for the e2e tests: Temporal dev server, anvil with our contracts,
dockerd running the echo container, and every role as its own process talking HTTP."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from tests.e2e.stack_client import StackClient
from tests.postgres import postgres
from tollway.devnet import processes
from tollway.devnet.down import bring_down
from tollway.devnet.postgres import PostgresServer
from tollway.devnet.up import Ports, bring_up
from tollway.netutil import free_port

BODY_LIMIT = 24 * 1024 * 1024
"""Big enough to show large bodies pass through files (`test_big_bodies.py`)."""
BODY_READ_TIMEOUT_SECONDS = 3
TRICKLE_SEGMENT_LIMIT = 2 * 1024 * 1024
STREAM_DEBIT_SECONDS = 1.0
MIN_CREDIT_SECONDS = 10
"""The credit a start needs, in seconds of its price (Livepeer's 60 by default): a stream
left unpaid runs out of it sooner."""
NETWORK_REFRESH_SECONDS = 5.0
STREAM_PAYMENT_SECONDS = 1.0
STREAM_EVENT_SILENCE_SECONDS = 12.0
"""pytrickle apps send a heartbeat every 10 s."""
STREAM_CLIENT_IDLE_SECONDS = 8.0
STREAM_WORKER = Path(__file__).with_name("stream_worker.py")
STREAM_CAPABILITY = "stream-echo"
STREAM_PRICE = 10**9
"""Wei per second: a ticket of the devnet buys far more than the credit a start needs."""
STREAM_PRICEY = "stream-pricey"
STREAM_PRICEY_PRICE = 10**17
"""Wei per second: a ticket buys less than the credit a start needs."""
__all__ = ["dead_orchestrator", "postgres", "stack", "stream_worker"]

STREAM_CAPACITY = 2
RETENTION_SWEEP_SECONDS = 1.0
WEBHOOK_RETRY_SECONDS = [0.5, 0.5, 1.0, 1.0, 2.0, 5.0]


@pytest.fixture(scope="session")
def dead_orchestrator() -> str:
    """An orchestrator URL where nothing listens: discovery must report it, never crash."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, dead_orchestrator: str, postgres: PostgresServer
) -> Iterator[StackClient]:
    """The stack, its gateway on PostgreSQL (the market tests' stacks keep the SQLite default)."""
    directory: Path = tmp_path_factory.mktemp("stack")
    console = Console(stderr=True)
    limits = {
        "TOLLWAY_GATEWAY_MAX_BODY_BYTES": str(BODY_LIMIT),
        "TOLLWAY_ORCH_MAX_BODY_BYTES": str(BODY_LIMIT),
        "TOLLWAY_GATEWAY_BODY_READ_TIMEOUT_SECONDS": str(BODY_READ_TIMEOUT_SECONDS),
        "TOLLWAY_ORCH_BODY_READ_TIMEOUT_SECONDS": str(BODY_READ_TIMEOUT_SECONDS),
        "TOLLWAY_ORCH_TRICKLE_MAX_SEGMENT_BYTES": str(TRICKLE_SEGMENT_LIMIT),
        "TOLLWAY_GATEWAY_TRICKLE_MAX_SEGMENT_BYTES": str(TRICKLE_SEGMENT_LIMIT),
        "TOLLWAY_ORCH_STREAM_DEBIT_SECONDS": str(STREAM_DEBIT_SECONDS),
        "TOLLWAY_ORCH_MIN_CREDIT_SECONDS": str(MIN_CREDIT_SECONDS),
        # Capabilities registered by tests reach the gateway's market view sooner.
        "TOLLWAY_GATEWAY_NETWORK_REFRESH_SECONDS": str(NETWORK_REFRESH_SECONDS),
        "TOLLWAY_GATEWAY_STREAM_PAYMENT_SECONDS": str(STREAM_PAYMENT_SECONDS),
        "TOLLWAY_GATEWAY_STREAM_EVENT_SILENCE_SECONDS": str(STREAM_EVENT_SILENCE_SECONDS),
        "TOLLWAY_GATEWAY_STREAM_CLIENT_IDLE_SECONDS": str(STREAM_CLIENT_IDLE_SECONDS),
        "TOLLWAY_GATEWAY_RETENTION_SWEEP_SECONDS": str(RETENTION_SWEEP_SECONDS),
        "TOLLWAY_GATEWAY_DATABASE_URL": postgres.url,
        # Tests poll hard and run hundreds of jobs at once on one key: quotas far above that
        # (test_job_api.py sets a key's own small ones to test them).
        "TOLLWAY_GATEWAY_RATE_LIMIT_READ_PER_MINUTE": str(10**7),
        "TOLLWAY_GATEWAY_RATE_LIMIT_CREATE_PER_MINUTE": str(10**7),
        "TOLLWAY_GATEWAY_JOBS_IN_FLIGHT_PER_KEY": str(10**6),
        # The webhook receivers are test servers on 127.0.0.1; their retries come in seconds.
        "TOLLWAY_GATEWAY_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "TOLLWAY_GATEWAY_WEBHOOK_RETRY_SECONDS": json.dumps(WEBHOOK_RETRY_SECONDS),
    }
    saved = {k: os.environ.get(k) for k in limits}
    os.environ.update(limits)
    try:
        state = bring_up(directory, Ports.free(), console, (dead_orchestrator,))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    client = StackClient(state)
    try:
        yield client
    finally:
        client.close()
        bring_down(directory, console)


@pytest.fixture(scope="session")
def stream_worker(stack: StackClient) -> Iterator[str]:
    """A pytrickle stream worker (tests/e2e/stream_worker.py) registered on the orchestrator
    twice: as `stream-echo` at a price a ticket covers, and as `stream-pricey` at one it does
    not."""
    port = free_port()
    log = Path(stack.state.directory) / "logs" / "stream-worker.log"
    pid = processes.spawn([sys.executable, str(STREAM_WORKER), "--port", str(port)], log)
    headers = {"Authorization": stack.state.orchestrator_secret}
    url = f"http://127.0.0.1:{port}"
    try:
        processes.wait_until(lambda: processes.port_open(port), "stream worker", timeout=30)
        for name, price in (
            (STREAM_CAPABILITY, STREAM_PRICE),
            (STREAM_PRICEY, STREAM_PRICEY_PRICE),
        ):
            registration = {
                "name": name,
                "url": url,
                "capacity": STREAM_CAPACITY,
                "price_per_unit": price,
            }
            answer = stack.orchestrator.post(
                "/capability/register", json=registration, headers=headers
            )
            assert answer.status_code == 200, answer.text
        yield url
    finally:
        for name in (STREAM_CAPABILITY, STREAM_PRICEY):
            stack.orchestrator.post("/capability/unregister", content=name, headers=headers)
        processes.stop(pid)
