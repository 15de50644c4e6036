"""examples/echo/server.py as a local process: its routes and its answers to bad input."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

SERVER = Path(__file__).resolve().parents[2] / "examples" / "echo" / "server.py"
TOKEN = "unit-test-token"
MAX_BODY = 4096


def _start(extra_env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": "0", "MAX_BODY_BYTES": str(MAX_BODY)}
    env.pop("WORKER_TOKEN", None)
    process = subprocess.Popen(
        [sys.executable, "-u", str(SERVER)],
        env={**env, **extra_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
    if match is None:
        process.kill()
        pytest.fail(f"echo server did not start: {line!r}")
    return process, f"http://127.0.0.1:{match.group(1)}"


@pytest.fixture(scope="module")
def server_factory() -> Iterator[Callable[[dict[str, str]], str]]:
    processes: list[subprocess.Popen[str]] = []

    def start(extra_env: dict[str, str]) -> str:
        process, url = _start(extra_env)
        processes.append(process)
        return url

    yield start
    for process in processes:
        process.terminate()
        assert process.wait(timeout=5) == 0, "SIGTERM should end the server cleanly"


@pytest.fixture(scope="module")
def client(server_factory: Callable[[dict[str, str]], str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_factory({}), trust_env=False, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def guarded(server_factory: Callable[[dict[str, str]], str]) -> Iterator[httpx.Client]:
    url = server_factory({"WORKER_TOKEN": TOKEN})
    with httpx.Client(base_url=url, trust_env=False, timeout=10) as client:
        yield client


def _error_type(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/json"
    return str(response.json()["error"]["type"])


def test_health(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "OK"}


def test_echo_is_byte_for_byte(client: httpx.Client) -> None:
    body = bytes(range(256)) * 8
    response = client.post("/a/b?x=1", content=body, headers={"Content-Type": "text/x-test"})
    assert response.status_code == 200
    assert response.content == body
    assert response.headers["content-type"] == "text/x-test"
    assert response.headers["x-metadata"] == '{"path": "/a/b", "bytes": 2048}'


def test_echo_defaults_and_empty_body(client: httpx.Client) -> None:
    response = client.post("/")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "application/octet-stream"
    assert json.loads(response.headers["x-metadata"]) == {"path": "/", "bytes": 0}


def test_echo_chunked_body(client: httpx.Client) -> None:
    response = client.post("/stream", content=iter([b"ab", b"", b"cde"]))
    assert response.status_code == 200
    assert response.content == b"abcde"


def test_fail(client: httpx.Client) -> None:
    response = client.post("/fail", content=b"{}")
    assert response.status_code == 500
    assert _error_type(response) == "WorkerError"


def test_sleep(client: httpx.Client) -> None:
    started = time.perf_counter()
    response = client.post("/sleep", json={"seconds": 0.2})
    assert response.status_code == 200
    assert response.json() == {"slept": 0.2}
    assert time.perf_counter() - started >= 0.2


def test_a_sleep_stops_when_its_client_hangs_up(client: httpx.Client) -> None:
    before = client.get("/stats").json()
    with pytest.raises(httpx.ReadTimeout):
        client.post("/sleep", json={"seconds": 30}, timeout=0.3)  # hangs up after 0.3 s
    deadline = time.monotonic() + 5
    while client.get("/stats").json()["abandoned"] == before["abandoned"]:
        assert time.monotonic() < deadline, "the sleep went on after its client left"
        time.sleep(0.05)
    after = client.get("/stats").json()
    assert after["slept"] == before["slept"]
    assert client.post("/sleep", json={"seconds": 0}).status_code == 200
    assert client.get("/stats").json()["slept"] == before["slept"] + 1


def read_events(stream: httpx.Response) -> list[tuple[float, dict[str, Any]]]:
    """Each event's data and when it arrived."""
    events = []
    for line in stream.iter_lines():
        if line.startswith("data: "):
            events.append((time.time(), json.loads(line.removeprefix("data: "))))
    return events


def test_events_arrive_one_at_a_time(client: httpx.Client) -> None:
    with client.stream("POST", "/events", json={"events": 3, "interval": 0.2}) as stream:
        assert stream.headers["content-type"] == "text/event-stream"
        events = read_events(stream)
    assert [data["i"] for _, data in events] == [0, 1, 2]
    for arrived, data in events:
        assert arrived - data["sent"] < 0.1  # sent as produced, not at the end
    assert events[2][1]["sent"] - events[0][1]["sent"] >= 0.4


@pytest.mark.parametrize(
    "body", [b"{}", b'{"events": 0}', b'{"events": 2, "interval": -1}', b'{"events": true}']
)
def test_events_bad_input(client: httpx.Client, body: bytes) -> None:
    response = client.post("/events", content=body)
    assert response.status_code == 400
    assert _error_type(response) == "BadRequest"


BAD_SLEEPS = [
    b"not json",
    b"\xff\xfe",
    b"[1]",
    b"{}",
    b'{"seconds": "1"}',
    b'{"seconds": true}',
    b'{"seconds": -1}',
    b'{"seconds": 1e9}',
    b'{"seconds": NaN}',
]


@pytest.mark.parametrize("body", BAD_SLEEPS)
def test_sleep_bad_input(client: httpx.Client, body: bytes) -> None:
    response = client.post("/sleep", content=body)
    assert response.status_code == 400
    assert _error_type(response) == "BadRequest"


def test_requests_run_concurrently(client: httpx.Client) -> None:
    url = str(client.base_url)
    with ThreadPoolExecutor(2) as pool, httpx.Client(base_url=url, trust_env=False) as other:
        slow = pool.submit(client.post, "/sleep", json={"seconds": 1})
        time.sleep(0.1)
        started = time.perf_counter()
        assert other.get("/health").status_code == 200
        assert time.perf_counter() - started < 0.5
        assert slow.result().status_code == 200


def test_unknown_get_and_method(client: httpx.Client) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404
    assert _error_type(missing) == "NotFound"
    unsupported = client.put("/x", content=b"x")
    assert unsupported.status_code == 501
    assert _error_type(unsupported) == "HTTPError"


def test_body_too_large(client: httpx.Client) -> None:
    response = client.post("/x", content=b"x" * (MAX_BODY + 1))
    assert response.status_code == 413
    assert _error_type(response) == "BadRequest"


def test_bad_content_length(client: httpx.Client) -> None:
    port = int(str(client.base_url).rsplit(":", 1)[1].rstrip("/"))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: lots\r\n\r\n")
        reply = sock.makefile("rb").read()
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body)["error"]["message"] == "bad Content-Length 'lots'"


def test_token_is_required_except_for_health(guarded: httpx.Client) -> None:
    assert guarded.get("/health").status_code == 200
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = guarded.post("/x", content=b"hi", headers=headers)
        assert response.status_code == 401
        assert _error_type(response) == "Unauthorized"
    for path in ("/fail", "/sleep"):
        assert guarded.post(path, content=b"{}").status_code == 401
    allowed = guarded.post("/x", content=b"hi", headers={"Authorization": f"Bearer {TOKEN}"})
    assert allowed.status_code == 200
    assert allowed.content == b"hi"
