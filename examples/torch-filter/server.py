"""The torch filter as a BYOC container: POST an image, get the filtered PNG back.

Routes: GET /health; POST any other path filters the body (`?filter=blur` picks the kernel,
FILTER the default). Environment: HOST (0.0.0.0), PORT (5000), WORKER_TOKEN (when set, POST
needs `Authorization: Bearer <token>`), MAX_BODY_BYTES, FILTER, MAX_PIXELS.
"""

from __future__ import annotations

import hmac
import json
import os
import signal
import sys
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NoReturn
from urllib.parse import parse_qs, urlsplit

import filter as image_filter

MAX_BODY_BYTES = int(os.environ.get("MAX_BODY_BYTES", str(32 * 1024 * 1024)))


class FilterHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tollway-torch-filter/1"
    disable_nagle_algorithm = True  # headers and body are two writes: no delayed-ACK stall
    token: str | None = None

    def do_GET(self) -> None:
        if urlsplit(self.path).path == "/health":
            self._reply_json(HTTPStatus.OK, {"status": "OK", "device": str(image_filter.DEVICE)})
        else:
            self._error(HTTPStatus.NOT_FOUND, "NotFound", "GET serves only /health")

    def do_POST(self) -> None:
        raw_length = self.headers.get("Content-Length")
        if raw_length is None or not raw_length.isdigit():
            self.close_connection = True
            self._error(HTTPStatus.LENGTH_REQUIRED, "BadRequest", "send a Content-Length")
            return
        if int(raw_length) > MAX_BODY_BYTES:
            self.close_connection = True
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "BadRequest", "body too large")
            return
        body = self.rfile.read(int(raw_length))
        given = self.headers.get("Authorization", "").encode()
        expected = f"Bearer {self.token}".encode()
        if self.token is not None and not hmac.compare_digest(given, expected):
            self._error(HTTPStatus.UNAUTHORIZED, "Unauthorized", "missing or wrong bearer")
            return
        kind = parse_qs(urlsplit(self.path).query).get("filter", [None])[0]
        started = time.perf_counter()
        try:
            image = image_filter.apply(body, kind)
        except image_filter.BadImage as exc:
            self._error(HTTPStatus.BAD_REQUEST, "BadImage", str(exc))
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(image)))
        elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
        self.send_header("X-Metadata", json.dumps({"filter_ms": elapsed_ms}))
        self.end_headers()
        self.wfile.write(image)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol errors raised by http.server itself answer JSON like everything else."""
        self.close_connection = True
        self._error(HTTPStatus(code), "HTTPError", message or HTTPStatus(code).phrase)

    def _error(self, status: HTTPStatus, kind: str, message: str) -> None:
        self._reply_json(status, {"error": {"type": kind, "message": message}})

    def _reply_json(self, status: HTTPStatus, payload: dict[str, object]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


def _exit_on_sigterm(signum: int, frame: object) -> NoReturn:
    sys.exit(0)  # as PID 1, Python ignores SIGTERM unless it handles it


def main() -> None:
    host = os.environ.get("HOST", "0.0.0.0")  # noqa: S104 - reached through a published port
    port = int(os.environ.get("PORT", "5000"))
    FilterHandler.token = os.environ.get("WORKER_TOKEN") or None
    server = ThreadingHTTPServer((host, port), FilterHandler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    print(f"torch filter ({image_filter.DEVICE}) listening on {host}:{port}", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
