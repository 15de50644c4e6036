"""A live-stream BYOC worker for the stream tests, on pytrickle's own trickle clients: on
`/stream/start` it reads each segment of its `subscribe_url` and publishes it upper-cased to its
`publish_url`, and it reports on `events_url` (started, each parameter update, stopped, and
a heartbeat every second, as pytrickle's apps do; with a `data_url` it writes a JSON note
per segment there; a stream started with `{"silent": true}` in
its params sends no event at all); `GET /stream/status` lists its streams and the parameters
each was given. Real HTTP on 127.0.0.1; an orchestrator serves it once registered
(`/capability/register`).

    python tests/e2e/stream_worker.py --port 9000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from typing import Any

from aiohttp import web
from pytrickle.publisher import TricklePublisher
from pytrickle.subscriber import TrickleSubscriber

SEGMENT_GAP_SECONDS = 0.05
"""pytrickle numbers a publisher's next segment in the background: give it a moment."""
HEARTBEAT_SECONDS = 1.0


class Stream:
    def __init__(self, request: dict[str, Any]) -> None:
        self.request = request
        self.events = TricklePublisher(request["events_url"], "application/json")
        self.silent = bool((request.get("params") or {}).get("silent"))
        self.lock = asyncio.Lock()
        self.task = asyncio.create_task(self._run())
        self.heartbeats = asyncio.create_task(self._beat())

    async def event(self, event: dict[str, Any]) -> None:
        if self.silent:
            return
        async with self.lock:
            async with await self.events.next() as writer:
                await writer.write(json.dumps(event).encode())
            await asyncio.sleep(SEGMENT_GAP_SECONDS)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await self.event({"type": "heartbeat"})

    async def _run(self) -> None:
        await self.event({"type": "started", "params": self.request.get("params", {})})
        subscribe, publish = self.request.get("subscribe_url"), self.request.get("publish_url")
        if not subscribe or not publish:
            return
        data_url = self.request.get("data_url")
        async with contextlib.AsyncExitStack() as opened:
            source = await opened.enter_async_context(TrickleSubscriber(subscribe))
            sink = await opened.enter_async_context(TricklePublisher(publish, "video/MP2T"))
            notes = None
            if data_url:
                notes = TricklePublisher(data_url, "application/json")
                await opened.enter_async_context(notes)
            n = 0
            while (segment := await source.next()) is not None:
                data = b""
                while chunk := await segment.read():
                    data += chunk
                async with await sink.next() as writer:
                    await writer.write(data.upper())
                if notes is not None:  # one note per segment on the data channel
                    async with await notes.next() as writer:
                        await writer.write(json.dumps({"segment": n, "bytes": len(data)}).encode())
                n += 1
                await asyncio.sleep(SEGMENT_GAP_SECONDS)

    async def stop(self) -> None:
        for task in (self.heartbeats, self.task):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self.event({"type": "stopped"})
        await self.events.close()


def app() -> web.Application:
    streams: dict[str, Stream] = {}
    stops: list[str] = []
    params_seen: dict[str, list[dict[str, Any]]] = {}

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "OK"})

    async def start(request: web.Request) -> web.Response:
        body = await request.json()
        stream_id = request.headers["X-Stream-Id"]
        streams[stream_id] = Stream(body)
        params_seen.setdefault(stream_id, []).append(body.get("params", {}))
        return web.json_response({"status": "started", "stream_id": stream_id})

    async def params(request: web.Request) -> web.Response:
        stream_id = request.headers["X-Stream-Id"]
        stream = streams.get(stream_id)
        if stream is None:
            return web.json_response({"error": "no such stream"}, status=404)
        params = await request.json()
        params_seen.setdefault(stream_id, []).append(params)
        await stream.event({"type": "params", "params": params})
        return web.json_response({"status": "updated"})

    async def stop(request: web.Request) -> web.Response:
        stream_id = request.headers["X-Stream-Id"]
        stream = streams.pop(stream_id, None)
        if stream is not None:
            stops.append(stream_id)
            await stream.stop()
        return web.json_response({"status": "stopped"})

    async def status(_: web.Request) -> web.Response:
        return web.json_response(
            {"running": sorted(streams), "stopped": stops, "params": params_seen}
        )

    application = web.Application()
    application.add_routes(
        [
            web.get("/health", health),
            web.post("/stream/start", start),
            web.post("/stream/params", params),
            web.post("/stream/stop", stop),
            web.get("/stream/status", status),
        ]
    )
    return application


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(app(), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
