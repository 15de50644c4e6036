"""Starting, checking and stopping the stack's processes by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx

__all__ = [
    "StartupError",
    "alive",
    "http_ok",
    "port_open",
    "spawn",
    "start_ticks",
    "stop",
    "wait_until",
]


class StartupError(RuntimeError):
    pass


def start_ticks(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot): with the PID, it names one process."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def spawn(argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> int:
    """Start `argv` in its own session (so it outlives `tollway up`), logging to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    return process.pid


def alive(pid: int, started: int | None = None) -> bool:
    """True while `pid` runs (and, given `started`, is still the process that started then);
    an exited process waiting to be reaped (a zombie) is not alive."""
    if started is not None and start_ticks(pid) != started:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def stop(pid: int, started: int | None = None, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if the process outlives `timeout`; never a recycled PID."""
    if not alive(pid, started):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid, started):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def wait_until(
    check: Callable[[], bool],
    what: str,
    timeout: float,
    pid: int | None = None,
    log_path: Path | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if pid is not None and not alive(pid):
            raise StartupError(f"{what} exited during start-up{_tail(log_path)}")
        time.sleep(0.1)
    raise StartupError(f"{what} not ready after {timeout:.0f} s{_tail(log_path)}")


def _tail(log_path: Path | None) -> str:
    if log_path is None or not log_path.exists():
        return ""
    return f"; last lines of {log_path}:\n" + "\n".join(log_path.read_text().splitlines()[-15:])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
