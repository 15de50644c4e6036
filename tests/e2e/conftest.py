"""One real embedded stack for the e2e tests: Temporal dev server, anvil with our contracts,
dockerd running the echo container, and every role as its own process talking HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from tests.e2e.stack_client import StackClient
from tollway.devnet.down import bring_down
from tollway.devnet.up import Ports, bring_up
from tollway.netutil import free_port

BODY_LIMIT = 24 * 1024 * 1024
"""Big enough to show large bodies pass through files (`test_big_bodies.py`)."""
BODY_READ_TIMEOUT_SECONDS = 3
TRICKLE_SEGMENT_LIMIT = 2 * 1024 * 1024
STREAM_DEBIT_SECONDS = 1.0


@pytest.fixture(scope="session")
def dead_orchestrator() -> str:
    """An orchestrator URL where nothing listens: discovery must report it, never crash."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, dead_orchestrator: str
) -> Iterator[StackClient]:
    directory: Path = tmp_path_factory.mktemp("stack")
    console = Console(stderr=True)
    limits = {
        "TOLLWAY_GATEWAY_MAX_BODY_BYTES": str(BODY_LIMIT),
        "TOLLWAY_ORCH_MAX_BODY_BYTES": str(BODY_LIMIT),
        "TOLLWAY_GATEWAY_BODY_READ_TIMEOUT_SECONDS": str(BODY_READ_TIMEOUT_SECONDS),
        "TOLLWAY_ORCH_BODY_READ_TIMEOUT_SECONDS": str(BODY_READ_TIMEOUT_SECONDS),
        "TOLLWAY_ORCH_TRICKLE_MAX_SEGMENT_BYTES": str(TRICKLE_SEGMENT_LIMIT),
        "TOLLWAY_ORCH_STREAM_DEBIT_SECONDS": str(STREAM_DEBIT_SECONDS),
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
