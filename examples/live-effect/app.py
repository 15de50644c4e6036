"""live-effect: a stock pytrickle stream app that applies a torch effect (effect.py) to every
video frame and passes audio through.

The orchestrator calls `POST /stream/start` with the stream's trickle URLs; pytrickle's
StreamServer subscribes to the input, runs each frame through `video`, publishes the output and
reports on the events channel. Parameters (`/stream/start`'s `params`, `/stream/params`) may set
`effect`; `width` and `height` (pytrickle's, 512 by default) size the frames it works on.

Reads HOST (0.0.0.0), PORT (5000), EFFECT (invert) and WORKER_TOKEN: when set, every POST needs
`Authorization: Bearer $WORKER_TOKEN` (tollway/byoc/CONTRACT.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from effect import EFFECTS, apply
from pytrickle import StreamProcessor, VideoFrame

log = logging.getLogger("live-effect")
TOKEN = os.environ.get("WORKER_TOKEN", "")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    if TOKEN and request.method == "POST":
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "missing or wrong worker token"}, status=401)
    return await handler(request)


class LiveEffect:
    def __init__(self) -> None:
        self.effect = os.environ.get("EFFECT", "invert")
        if self.effect not in EFFECTS:
            raise SystemExit(f"EFFECT={self.effect!r}: pick one of {', '.join(EFFECTS)}")

    async def on_start(self, params: dict[str, Any]) -> None:
        self._take(params)

    async def on_params(self, params: dict[str, Any]) -> None:
        self._take(params)

    async def video(self, frame: VideoFrame) -> VideoFrame:
        return frame.replace_tensor(apply(frame.tensor, self.effect))

    def _take(self, params: dict[str, Any]) -> None:
        effect = params.get("effect")
        if effect in EFFECTS:
            self.effect = effect
            log.info("effect: %s", effect)
        elif effect is not None:
            log.warning("ignoring unknown effect %r (known: %s)", effect, ", ".join(EFFECTS))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    live = LiveEffect()
    StreamProcessor(
        video_processor=live.video,
        on_stream_start=live.on_start,
        param_updater=live.on_params,
        name="live-effect",
        host=os.environ.get("HOST", "0.0.0.0"),  # noqa: S104 - reached through a published port
        port=int(os.environ.get("PORT", "5000")),
        middleware=[require_token],
    ).run()


if __name__ == "__main__":
    main()
