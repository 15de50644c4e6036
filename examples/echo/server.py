"""A stdlib-only BYOC worker: echoes POST bodies, and fails, sleeps or streams on request.

Routes: GET /health; GET /stats (sleeps finished and abandoned); POST /fail (500); POST /sleep
{"seconds": x}, which stops early when its client hangs up (a canceled job's work stops); POST
/events {"events": n, "interval": s} answers server-sent events, one every `s` seconds, each
`data: {"i": k, "sent": <unix time>}`; POST anything else echoes.
Environment: HOST (default 0.0.0.0), PORT (default 5000, 0 picks a free one), WORKER_TOKEN
(when set, every route but /health needs `Authorization: Bearer <token>`), MAX_BODY_BYTES.
"""

from __future__ import annotations

import hmac
import json
import os
import select
import signal
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NoReturn

MAX_BODY_BYTES = int(os.environ.get("MAX_BODY_BYTES", str(64 * 1024 * 1024)))
MAX_SLEEP_SECONDS = 300.0
SLEEP_STEP_SECONDS = 0.05
STATS = {"slept": 0, "abandoned": 0}
STATS_LOCK = threading.Lock()


class BadInput(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tollway-echo/1"
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK of the headers: 40 ms a request on Linux.
    disable_nagle_algorithm = True
    token: str | None = None

    def do_GET(self) -> None:
        if self._path() == "/health":
            self._send_json(HTTPStatus.OK, {"status": "OK"})
        elif self._path() == "/stats":
            with STATS_LOCK:
                self._send_json(HTTPStatus.OK, dict(STATS))
        else:
            self._send_error(HTTPStatus.NOT_FOUND, "NotFound", "GET serves only /health, /stats")

    def do_POST(self) -> None:
        # The body is read before anything else so that an early answer never leaves unread
        # bytes behind, which would reset the connection under the client.
        try:
            body = self._read_body()
        except BadInput as error:
            self.close_connection = True
            self._send_error(error.status, "BadRequest", error.message)
            return
        if not self._authorized():
            self._send_error(HTTPStatus.UNAUTHORIZED, "Unauthorized", "missing or wrong bearer")
            return
        path = self._path()
        if path == "/fail":
            self._send_error(HTTPStatus.INTERNAL_SERVER_ERROR, "WorkerError", "failed on request")
        elif path == "/sleep":
            self._sleep(body)
        elif path == "/events":
            self._events(body)
        else:
            self._echo(path, body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol errors raised by http.server itself answer JSON like everything else."""
        self.close_connection = True
        self._send_error(HTTPStatus(code), "HTTPError", message or HTTPStatus(code).phrase)

    def _echo(self, path: str, body: bytes) -> None:
        self.send_response(HTTPStatus.OK)
        content_type = self.headers.get("Content-Type") or "application/octet-stream"
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Metadata", json.dumps({"path": path, "bytes": len(body)}))
        self.end_headers()
        self.wfile.write(body)

    def _sleep(self, body: bytes) -> None:
        try:
            seconds = _sleep_seconds(body)
        except BadInput as error:
            self._send_error(error.status, "BadRequest", error.message)
            return
        until = time.monotonic() + seconds
        while (left := until - time.monotonic()) > 0:
            time.sleep(min(left, SLEEP_STEP_SECONDS))
            if self._client_gone():
                with STATS_LOCK:
                    STATS["abandoned"] += 1
                self.close_connection = True
                return
        with STATS_LOCK:
            STATS["slept"] += 1
        self._send_json(HTTPStatus.OK, {"slept": seconds})

    def _client_gone(self) -> bool:
        """The client closed its connection (it reads as at its end), so nobody waits."""
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _events(self, body: bytes) -> None:
        try:
            count, interval = _event_plan(body)
        except BadInput as error:
            self._send_error(error.status, "BadRequest", error.message)
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(count):
            if i:
                time.sleep(interval)
            event = f"data: {json.dumps({'i': i, 'sent': time.time()})}\n\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def _authorized(self) -> bool:
        if self.token is None:
            return True
        given = self.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode())

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        raw = self.headers.get("Content-Length", "0")
        try:
            length = int(raw)
        except ValueError:
            raise BadInput(HTTPStatus.BAD_REQUEST, f"bad Content-Length {raw!r}") from None
        if length < 0:
            raise BadInput(HTTPStatus.BAD_REQUEST, f"bad Content-Length {raw!r}")
        if length > MAX_BODY_BYTES:
            raise _too_large()
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(line, 16)
            except ValueError:
                raise BadInput(HTTPStatus.BAD_REQUEST, "bad chunk size") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                raise _too_large()
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _send_error(self, status: HTTPStatus, kind: str, message: str) -> None:
        self._send_json(status, {"error": {"type": kind, "message": message}})

    def _send_json(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _too_large() -> BadInput:
    return BadInput(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY_BYTES} bytes")


def _sleep_seconds(body: bytes) -> float:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadInput(HTTPStatus.BAD_REQUEST, "body is not JSON") from None
    seconds = payload.get("seconds") if isinstance(payload, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise BadInput(HTTPStatus.BAD_REQUEST, 'expected {"seconds": <number>}')
    if not 0 <= seconds <= MAX_SLEEP_SECONDS:
        raise BadInput(HTTPStatus.BAD_REQUEST, f"seconds must be within 0..{MAX_SLEEP_SECONDS:g}")
    return float(seconds)


def _event_plan(body: bytes) -> tuple[int, float]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadInput(HTTPStatus.BAD_REQUEST, "body is not JSON") from None
    count = payload.get("events") if isinstance(payload, dict) else None
    interval = payload.get("interval", 0.1) if isinstance(payload, dict) else None
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
        raise BadInput(HTTPStatus.BAD_REQUEST, 'expected {"events": <1..1000>, "interval": s}')
    if isinstance(interval, bool) or not isinstance(interval, int | float):
        raise BadInput(HTTPStatus.BAD_REQUEST, "interval must be a number of seconds")
    if not 0 <= interval <= 10:
        raise BadInput(HTTPStatus.BAD_REQUEST, "interval must be within 0..10 seconds")
    return count, float(interval)


def _exit_on_sigterm(signum: int, frame: object) -> NoReturn:
    # As PID 1 in a container, Python ignores SIGTERM unless it handles it, and `docker stop`
    # would then wait out its whole timeout.
    sys.exit(0)


def main() -> None:
    host = os.environ.get("HOST", "0.0.0.0")  # noqa: S104 - inside a container, reached via a published port
    port = int(os.environ.get("PORT", "5000"))
    EchoHandler.token = os.environ.get("WORKER_TOKEN") or None
    server = ThreadingHTTPServer((host, port), EchoHandler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    print(f"echo worker listening on {host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
