"""The role image (scripts/build-roles-image.sh) is current, names every role command, and runs
a role: the gateway API against a Temporal dev server, answering /healthz and /metrics.

A missing or stale image fails these tests: run scripts/setup.sh."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tollway.devnet.toolpaths import venv_binary
from tollway.netutil import free_port

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
IMAGE = f"tollway/roles:{VERSION}"
STARTUP_SECONDS = 90.0


def source_digest() -> str:
    """The digest scripts/build-roles-image.sh labels the image with: sha256sum over the files,
    in bytewise order, then sha256 of that listing, 16 hex digits."""
    files = ["pyproject.toml", "README.md", "deploy/image/Dockerfile"]
    files += [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "tollway").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]
    listing = "".join(
        f"{hashlib.sha256((ROOT / name).read_bytes()).hexdigest()}  {name}\n"
        for name in sorted(files, key=lambda name: name.encode())
    )
    return hashlib.sha256(listing.encode()).hexdigest()[:16]


def docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def image() -> str:
    found = docker(
        "image", "inspect", "-f", '{{ index .Config.Labels "tollway.source-digest" }}', IMAGE
    )
    if found.returncode != 0:
        pytest.fail(f"{IMAGE} is missing: run scripts/setup.sh ({found.stderr.strip()})")
    if found.stdout.strip() != source_digest():
        pytest.fail(f"{IMAGE} was built from other sources: run scripts/setup.sh")
    return IMAGE


def test_help_names_every_role_command(image: str) -> None:
    top = docker("run", "--rm", image, "--help")
    assert top.returncode == 0, top.stderr
    for command in ("gateway", "orchestrator", "gpu-worker"):
        assert command in top.stdout
    for group in ("gateway", "orchestrator"):
        sub = docker("run", "--rm", image, group, "--help")
        assert sub.returncode == 0, sub.stderr
        assert "api" in sub.stdout and "worker" in sub.stdout


@pytest.fixture
def temporal() -> Iterator[str]:
    """A Temporal dev server with the gateway's namespace, in memory, on loopback ports."""
    port = free_port()
    process = subprocess.Popen(
        [
            venv_binary("temporal"), "server", "start-dev", "--headless",
            "--ip", "127.0.0.1", "--port", str(port),
            "--http-port", str(free_port()), "--metrics-port", str(free_port()),
            "--namespace", "gateway", "--log-level", "warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not _port_open(port):
            assert process.poll() is None, "the Temporal dev server exited"
            assert time.monotonic() < deadline, "the Temporal dev server did not listen"
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_gateway_api_serves_from_the_image(image: str, temporal: str) -> None:
    port = free_port()
    name = f"tollway-role-test-{uuid.uuid4().hex[:8]}"
    env = {
        "TOLLWAY_GATEWAY_HOST": "127.0.0.1",
        "TOLLWAY_GATEWAY_PORT": str(port),
        "TOLLWAY_GATEWAY_TEMPORAL_ADDRESS": temporal,
        # The API alone: no hosted job worker, so no keystore is read.
        "TOLLWAY_GATEWAY_API_HOSTS_WORKER": "false",
        "TOLLWAY_GATEWAY_KEY__KEYSTORE": "/run/secrets/gateway-keystore",
        "TOLLWAY_GATEWAY_KEY__PASSWORD_FILE": "/run/secrets/gateway-keystore-password",
    }
    flags = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
    started = docker(
        "run", "-d", "--name", name, "--network", "host", *flags, image, "gateway", "api"
    )
    assert started.returncode == 0, started.stderr
    try:
        url = f"http://127.0.0.1:{port}"
        began = time.monotonic()
        health = _wait_ok(f"{url}/healthz", name)
        print(f"\ngateway API healthy {time.monotonic() - began:.1f} s after docker run")
        assert health.json()
        metrics = httpx.get(f"{url}/metrics", timeout=10, trust_env=False)
        assert metrics.status_code == 200
        assert "# TYPE" in metrics.text
    finally:
        docker("rm", "-f", name)


def _wait_ok(url: str, container: str) -> httpx.Response:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            response = httpx.get(url, timeout=2, trust_env=False)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        state = docker("inspect", "-f", "{{ .State.Running }}", container).stdout.strip()
        if state != "true" or time.monotonic() > deadline:
            logs = docker("logs", "--tail", "40", container)
            pytest.fail(f"{url} never answered 200 (running: {state}):\n{logs.stdout}{logs.stderr}")
        time.sleep(0.5)
