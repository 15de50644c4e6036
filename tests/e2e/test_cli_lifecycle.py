"""The README's path through the real CLI: up, status, demo, down leaves nothing behind."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import docker

from tollway.devnet.processes import alive


def tollway(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tollway", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
        check=False,
    )


def test_up_status_demo_down(tmp_path: Path) -> None:
    directory = str(tmp_path / "stack")
    try:
        check_lifecycle(tmp_path, directory)
    finally:  # a failed step must not leave the stack running
        if (tmp_path / "stack" / "stack.json").exists():
            tollway("down", "--dir", directory)


def check_lifecycle(tmp_path: Path, directory: str) -> None:
    up = tollway("up", "--free-ports", "--dir", directory)
    assert up.returncode == 0, up.stdout + up.stderr
    state = json.loads((tmp_path / "stack" / "stack.json").read_text())
    for url in (state["endpoints"]["gateway_api"], state["endpoints"]["orchestrator_api"]):
        assert url.startswith("http://127.0.0.1:")
    pids = [p["pid"] for p in state["processes"].values()]
    assert len(pids) == 7 and all(alive(pid) for pid in pids)

    status = tollway("status", "--dir", directory)
    assert status.returncode == 0, status.stdout
    assert "stack " + state["stack_id"] in status.stdout

    demo = tollway("demo", "--dir", directory)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "identical to the input" in demo.stdout
    assert re.search(r"in transaction\s+0x[0-9a-f]{64}", demo.stdout), demo.stdout

    down = tollway("down", "--dir", directory)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not any(alive(pid) for pid in pids)
    labelled = docker.from_env().containers.list(
        all=True, filters={"label": f"tollway.stack={state['stack_id']}"}
    )
    assert labelled == []
    assert tollway("status", "--dir", directory).returncode == 1
