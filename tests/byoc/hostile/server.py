"""Hostile on request: POST /write-root, /fork-bomb, /allocate {"mb": n},
/connect {"host": h, "port": p}; GET /health."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def write_root() -> dict[str, Any]:
    results = {}
    for path in ("/etc/pwned", "/app/pwned", "/pwned", "/tmp/allowed"):
        try:
            with open(path, "w") as handle:
                handle.write("x")
            results[path] = "written"
        except OSError as exc:
            results[path] = exc.strerror or str(exc)
    return results


def fork_bomb() -> dict[str, Any]:
    children = []
    error = ""
    started = time.monotonic()
    while time.monotonic() - started < 10:
        try:
            pid = os.fork()
        except OSError as exc:
            error = exc.strerror or str(exc)
            break
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return {"forked": len(children), "error": error}


def allocate(megabytes: int) -> dict[str, Any]:
    blocks = []
    for _ in range(megabytes):
        block = bytearray(1024 * 1024)
        block[::4096] = b"x" * len(block[::4096])  # touch every page so it is really used
        blocks.append(block)
    return {"allocated_mb": len(blocks)}


def connect(host: str, port: int) -> dict[str, Any]:
    try:
        with socket.create_connection((host, port), timeout=3):
            return {"connected": True, "error": ""}
    except OSError as exc:
        return {"connected": False, "error": str(exc)}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._answer(200, {"status": "OK"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/write-root":
            self._answer(200, write_root())
        elif self.path == "/fork-bomb":
            self._answer(200, fork_bomb())
        elif self.path == "/connect":
            self._answer(200, connect(str(body["host"]), int(body["port"])))
        elif self.path == "/allocate":
            self._answer(200, allocate(int(body.get("mb", 1))))
        else:
            self._answer(404, {"error": "unknown route"})

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    # All interfaces of the container's own namespace; Docker publishes it on 127.0.0.1 only.
    address = ("0.0.0.0", int(os.environ.get("PORT", "5000")))  # noqa: S104
    ThreadingHTTPServer(address, Handler).serve_forever()
