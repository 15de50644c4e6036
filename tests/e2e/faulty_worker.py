"""A BYOC worker with a chosen fault, for the marketplace test: it echoes the request body after
`--delay-ms` and answers 500 to every `--fail-every`-th request; with `--frames N` it reports
N frames in `Tollway-Units`. Real HTTP on 127.0.0.1; an
orchestrator serves it once registered the Livepeer way (`/capability/register`).

    python tests/e2e/faulty_worker.py --port 9000 --delay-ms 300 --fail-every 2
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(port: int, delay_ms: int, fail_every: int, frames: int | None = None) -> None:
    counter = itertools.count(1)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(200, b'{"status": "OK"}', "application/json")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                n = next(counter)
            time.sleep(delay_ms / 1000)
            if fail_every and n % fail_every == 0:
                error = json.dumps({"error": f"deliberate failure of request {n}"}).encode()
                self._answer(500, error, "application/json")
            else:
                content_type = self.headers.get("Content-Type", "application/octet-stream")
                self._answer(200, body, content_type, frames)

        def _answer(
            self, status: int, body: bytes, content_type: str, frames: int | None = None
        ) -> None:
            self.send_response(status)
            if frames is not None:  # what a frame-priced worker bills (tollway's contract)
                self.send_header("Tollway-Units", str(frames))
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=int, default=0)
    parser.add_argument("--fail-every", type=int, default=0)
    parser.add_argument("--frames", type=int, default=None)
    args = parser.parse_args()
    serve(args.port, args.delay_ms, args.fail_every, args.frames)
