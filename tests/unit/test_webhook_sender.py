"""Webhook sending: targets a gateway must not reach are refused before any connection, the
request goes to the address checked, deliveries verify with `standardwebhooks`, and a redirect
is a failed attempt, not followed. The receiver is a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from tollway.errors import WebhookTargetRefused
from tollway.webhooks import WebhookSender, check_url, resolve

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Received:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received]]:
    """`/ok` answers 204, `/fail` 500, `/moved` a redirect to `/ok`."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.requests.append((self.path, dict(self.headers.items()), body))
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "/ok")
            else:
                self.send_response(204 if self.path == "/ok" else 500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.5/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost/hook",
        "http://api.localhost/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
    ],
)
async def test_private_and_loopback_targets_are_refused(url: str) -> None:
    with pytest.raises(WebhookTargetRefused, match="does not send to"):
        check_url(url, allow_private=False)
    async with httpx.AsyncClient() as http:
        sender = WebhookSender(http, allow_private=False, timeout_seconds=1)
        attempt = await sender.send(url, SECRET, "msg_1", "{}")
    assert not attempt.delivered and attempt.status is None
    assert attempt.error is not None and "does not send to" in attempt.error


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://hooks.example/x", "must be http or https"),
        ("hooks.example/x", "must be http or https"),
        ("https://user:pw@hooks.example/x", "credentials"),
        ("https:///x", "names no host"),
        ("https://hooks.example:99999/x", "malformed"),
        ("https://" + "a" * 2050 + ".example/", "longer than"),
    ],
)
def test_malformed_urls_are_refused_naming_the_problem(url: str, problem: str) -> None:
    with pytest.raises(WebhookTargetRefused, match=problem):
        check_url(url, allow_private=True)


async def test_a_name_resolving_to_a_private_address_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stand-in resolver: the name is checked by the addresses it resolves to at send time."""

    async def private_answer(host: str, port: int, **_: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.9.8.7", port))]

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "getaddrinfo", private_answer)
    check_url("https://internal.example/hook", allow_private=False)  # a name: fine so far
    with pytest.raises(WebhookTargetRefused, match=r"internal.example.*10\.9\.8\.7"):
        await resolve("https://internal.example/hook", allow_private=False)


async def test_the_request_goes_to_the_checked_address() -> None:
    target = await resolve("https://localhost:8443/a/b?c=1", allow_private=True)
    assert target.url in ("https://127.0.0.1:8443/a/b?c=1", "https://[::1]:8443/a/b?c=1")
    assert target.host_header == "localhost:8443"
    assert target.sni_hostname == "localhost"


async def test_a_delivery_is_signed_and_verifies(receiver: tuple[str, Received]) -> None:
    base, received = receiver
    body = '{"type":"job.succeeded","timestamp":"2026-12-01T00:00:00+00:00","data":{}}'
    async with httpx.AsyncClient() as http:
        sender = WebhookSender(http, allow_private=True, timeout_seconds=5)
        attempt = await sender.send(base + "/ok", SECRET, "msg_abc", body)
    assert attempt.delivered and attempt.status == 204 and attempt.error is None
    [(path, headers, sent)] = received.requests
    assert path == "/ok" and sent == body.encode()
    assert headers["Host"] == base.removeprefix("http://")
    assert headers["webhook-id"] == "msg_abc"
    assert Webhook(SECRET).verify(sent, headers) == {
        "type": "job.succeeded",
        "timestamp": "2026-12-01T00:00:00+00:00",
        "data": {},
    }
    with pytest.raises(Exception, match="No matching signature"):
        Webhook("whsec_" + "A" * 32).verify(sent, headers)


async def test_redirects_and_errors_are_failed_attempts(receiver: tuple[str, Received]) -> None:
    base, received = receiver
    async with httpx.AsyncClient() as http:
        sender = WebhookSender(http, allow_private=True, timeout_seconds=5)
        moved = await sender.send(base + "/moved", SECRET, "msg_1", "{}")
        failed = await sender.send(base + "/fail", SECRET, "msg_2", "{}")
        closed = await sender.send("http://127.0.0.1:9/nobody", SECRET, "msg_3", "{}")
    assert not moved.delivered and moved.status == 302
    assert moved.error is not None and "redirects are not followed" in moved.error
    assert [path for path, _, _ in received.requests] == ["/moved", "/fail"]  # /ok never
    assert not failed.delivered and failed.status == 500
    assert not closed.delivered and closed.status is None and closed.error
