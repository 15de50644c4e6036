"""A real PostgreSQL server for the tests that need one (Debian's `postgresql`, which the setup
step installs): started once per session on 127.0.0.1, stopped by its PID. No PostgreSQL here
fails those tests; it never skips them."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tollway.devnet.postgres import PostgresServer
from tollway.netutil import free_port

__all__ = ["postgres"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    # Not under pytest's own temporary directory: the `postgres` user cannot enter that one.
    directory = Path(tempfile.mkdtemp(prefix="tollway-postgres-"))
    server = PostgresServer(directory, free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
