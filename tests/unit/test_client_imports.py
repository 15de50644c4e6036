"""`import tollway.client` stays light: a program that only calls the gateway's API loads httpx,
pydantic and the shared models, not the server's stack. The check runs in a fresh interpreter,
since this test process has imported everything already."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("fastapi", "sqlalchemy", "alembic", "web3", "eth_account", "temporalio", "torch", "docker")

PROBE = f"""
import sys
import tollway.client
print(" ".join(m for m in {HEAVY!r} if m in sys.modules))
"""


def test_the_client_imports_none_of_the_server() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == [], f"import tollway.client loaded {probe.stdout.strip()}"
