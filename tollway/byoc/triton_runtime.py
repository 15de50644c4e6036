"""`ContainerRuntime` for Triton replicas: each is a `triton_host` process serving one model file
through nvidia-pytriton's bundled Triton server, on 127.0.0.1 ports of its own.

A replica runs in its own session, so it outlives a GPU worker restart, and a JSON record in
`state_dir` (pid, labels, URL) lets the restarted worker find it by label and take it over, as
Docker's labels do for containers. Unlike a container, it runs with the GPU worker's user,
filesystem and network: a model file is the operator's own code (CONTRACT.md, "Triton").
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel

from tollway.byoc.spec import BuildImageInput, ContainerInfo, ContainerSpec, StartedContainer
from tollway.errors import ContainerSetupFailed
from tollway.netutil import LOCALHOST, free_port

__all__ = ["LOG_TAIL_CHARS", "STOP_TIMEOUT_SECONDS", "TritonRuntime", "is_triton_id"]

ID_PREFIX = "triton-"
STOP_TIMEOUT_SECONDS = 15.0
GROUP_GONE_SECONDS = 5.0
LOG_TAIL_CHARS = 2000
SHARED_MEMORY = Path("/dev/shm")  # noqa: S108 - reading what pytriton left, not a temp file


class _Record(BaseModel):
    container_id: str
    name: str
    pid: int
    workspace: str
    labels: dict[str, str]
    url: str
    host_port: int


def is_triton_id(container_id: str) -> bool:
    return container_id.startswith(ID_PREFIX)


class TritonRuntime:
    def __init__(self, state_dir: Path) -> None:
        self._dir = state_dir
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        """Processes this worker started, kept to reap them; a restarted worker has none."""

    def build_image(self, request: BuildImageInput) -> str:
        raise ContainerSetupFailed("a Triton replica has no image to build", tag=request.tag)

    def start(self, spec: ContainerSpec) -> StartedContainer:
        if spec.triton is None:
            raise ContainerSetupFailed(f"{spec.capability}: not a Triton replica")
        model_file = Path(spec.triton.model_file)
        if not model_file.is_file():
            raise ContainerSetupFailed(
                f"{spec.capability}: Triton model file {model_file} not found on this GPU worker",
                model_file=str(model_file),
            )
        self._dir.mkdir(parents=True, exist_ok=True)
        container_id = ID_PREFIX + secrets.token_hex(6)
        http_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
        # pytriton puts Unix sockets in its workspace, whose paths may not exceed 107 bytes.
        workspace = Path(tempfile.gettempdir()) / f"tollway-{container_id}"
        command = [
            sys.executable,
            "-m",
            "tollway.byoc.triton_host",
            f"--model-file={model_file}",
            f"--name={spec.capability}",
            f"--http-port={http_port}",
            f"--grpc-port={grpc_port}",
            f"--metrics-port={metrics_port}",
            f"--max-batch-size={spec.triton.max_batch_size}",
            f"--workspace={workspace}",
        ]
        with self._log_path(container_id).open("wb") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_environment(spec),
                cwd=model_file.parent,
                start_new_session=True,  # outlives the worker; stopped as a process group
            )
        self._children[process.pid] = process
        record = _Record(
            container_id=container_id,
            name=f"tollway-{spec.capability}-{container_id}",
            pid=process.pid,
            workspace=str(workspace),
            labels=spec.labels,
            url=f"http://{LOCALHOST}:{http_port}",
            host_port=http_port,
        )
        self._record_path(container_id).write_text(record.model_dump_json())
        return StartedContainer(
            container_id=container_id, name=record.name, url=record.url, host_port=http_port
        )

    def stop(self, container_id: str) -> None:
        """SIGTERM to the replica's process group (Triton unloads its model), SIGKILL after
        STOP_TIMEOUT_SECONDS; then its record and workspace go."""
        record = self._record(container_id)
        if record is None:
            return
        if self._alive(record):
            _signal_group(record.pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
            while self._alive(record) and time.monotonic() < deadline:
                time.sleep(0.1)
        _signal_group(record.pid, signal.SIGKILL)  # whatever of the group is left
        self._reap(record.pid)
        _wait_group_gone(record.pid, GROUP_GONE_SECONDS)
        self._children.pop(record.pid, None)
        # A killed replica cannot free the shared memory its Python backend used (pytriton
        # names it after the host's pid); a crash-looping model would otherwise fill /dev/shm.
        for region in SHARED_MEMORY.glob(f"pytrtion{record.pid}-*"):
            region.unlink(missing_ok=True)
        shutil.rmtree(record.workspace, ignore_errors=True)
        self._log_path(container_id).unlink(missing_ok=True)
        self._record_path(container_id).unlink(missing_ok=True)

    def networks(self) -> list[str]:
        """None: Triton replicas listen on loopback."""
        return []

    def list_containers(self, labels: Mapping[str, str] | None = None) -> list[ContainerInfo]:
        wanted = dict(labels or {})
        found: list[ContainerInfo] = []
        for path in sorted(self._dir.glob(f"{ID_PREFIX}*.json")) if self._dir.is_dir() else []:
            record = self._record(path.stem)
            if record is None or any(record.labels.get(k) != v for k, v in wanted.items()):
                continue
            running = self._alive(record)
            found.append(
                ContainerInfo(
                    container_id=record.container_id,
                    name=record.name,
                    status="running" if running else "exited",
                    labels=record.labels,
                    url=record.url if running else None,
                    host_port=record.host_port if running else None,
                )
            )
        return found

    def status(self, container_id: str) -> str | None:
        record = self._record(container_id)
        if record is None:
            return None
        return "running" if self._alive(record) else "exited"

    def logs(self, container_id: str, tail: int = 100) -> str:
        try:
            text = self._log_path(container_id).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-tail:])[-LOG_TAIL_CHARS:]

    def _record_path(self, container_id: str) -> Path:
        return self._dir / f"{container_id}.json"

    def _log_path(self, container_id: str) -> Path:
        return self._dir / f"{container_id}.log"

    def _record(self, container_id: str) -> _Record | None:
        if not is_triton_id(container_id) or "/" in container_id:
            return None
        try:
            return _Record.model_validate_json(self._record_path(container_id).read_bytes())
        except (OSError, ValueError):
            return None

    def _alive(self, record: _Record) -> bool:
        """The recorded process still runs, and is ours: its command line names the replica
        (a pid reused by another process after a reboot is not taken for it)."""
        child = self._children.get(record.pid)
        if child is not None:
            return child.poll() is None
        try:
            command = Path(f"/proc/{record.pid}/cmdline").read_bytes()
            state = Path(f"/proc/{record.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state != "Z" and f"--workspace={record.workspace}".encode() in command

    def _reap(self, pid: int) -> None:
        child = self._children.get(pid)
        if child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5)


def _environment(spec: ContainerSpec) -> dict[str, str]:
    """The worker's environment less its own settings (secrets among them), the declaration's
    on top; only the placed GPUs visible; LD_LIBRARY_PATH so Triton's Python backend stub loads
    this interpreter's libpython."""
    libdir = str(sysconfig.get_config_var("LIBDIR") or "")
    inherited = os.environ.get("LD_LIBRARY_PATH", "")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("TOLLWAY_")},
        **spec.env,
        "CUDA_VISIBLE_DEVICES": ",".join(spec.gpu_device_ids),
        "LD_LIBRARY_PATH": f"{libdir}:{inherited}" if inherited else libdir,
        "PYTHONUNBUFFERED": "1",
    }


def _group_alive(pgid: int) -> bool:
    """A live (not zombie) process is left in process group `pgid`."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue
        if group == str(pgid) and state != "Z":
            return True
    return False


def _wait_group_gone(pgid: int, timeout: float) -> None:
    """SIGKILL is delivered when a process next leaves the kernel: on a busy host a member may
    linger a moment. Wait for that, so a stopped replica is gone when stop returns."""
    deadline = time.monotonic() + timeout
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
