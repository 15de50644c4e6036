"""A live stream's wire format between gateway and orchestrator (go-livepeer's BYOC streams):
the stream id in the job header's `request`, the ingress/egress/data switches in its
`parameters`, the trickle channels of a stream, and the headers that name their URLs."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from tollway.errors import BadJobHeader

__all__ = [
    "STREAM_URL_HEADERS",
    "StreamChannels",
    "StreamOptions",
    "StreamStart",
    "stream_id_of",
]

_STREAM_ID = re.compile(r"^[A-Za-z0-9_.-]{1,96}$")

STREAM_URL_HEADERS = {
    "publish_url": "X-Publish-Url",
    "subscribe_url": "X-Subscribe-Url",
    "control_url": "X-Control-Url",
    "events_url": "X-Events-Url",
    "data_url": "X-Data-Url",
}
"""The orchestrator's answer to a start names each channel's URL, as the gateway sees them."""


def stream_id_of(request: str) -> str | None:
    """The `stream_id` in the job header's `request` JSON, if any; BadJobHeader if malformed."""
    try:
        parsed = json.loads(request or "{}") or {}
    except ValueError as exc:
        raise BadJobHeader("request is not valid JSON", field="request") from exc
    stream_id = parsed.get("stream_id") if isinstance(parsed, dict) else None
    if stream_id is None:
        return None
    if not isinstance(stream_id, str) or not _STREAM_ID.match(stream_id):
        raise BadJobHeader("request.stream_id must be 1-96 of [A-Za-z0-9_.-]", field="request")
    return stream_id


class StreamOptions(BaseModel):
    """The job header's `parameters` switches for a stream (go-livepeer's names)."""

    enable_video_ingress: bool = True
    enable_video_egress: bool = True
    enable_data_output: bool = False

    @classmethod
    def parse(cls, parameters: str) -> StreamOptions:
        try:
            parsed = json.loads(parameters or "{}") or {}
            if not isinstance(parsed, dict):
                raise ValueError("not an object")
            return cls.model_validate({k: v for k, v in parsed.items() if k in cls.model_fields})
        except (ValueError, ValidationError) as exc:
            raise BadJobHeader(f"parameters: {exc}", field="parameters") from exc


class StreamChannels(BaseModel):
    """The trickle channels of one stream, by role (None: switched off)."""

    ingress: str | None
    """Video in: the gateway publishes, the container subscribes."""
    egress: str | None
    """Video out: the container publishes, the gateway subscribes."""
    control: str
    events: str
    data: str | None

    @classmethod
    def of(cls, stream_id: str, options: StreamOptions) -> StreamChannels:
        return cls(
            ingress=stream_id if options.enable_video_ingress else None,
            egress=f"{stream_id}-out" if options.enable_video_egress else None,
            control=f"{stream_id}-control",
            events=f"{stream_id}-events",
            data=f"{stream_id}-data" if options.enable_data_output else None,
        )

    def names(self) -> list[str]:
        return [n for n in (self.ingress, self.egress, self.control, self.events, self.data) if n]


class StreamStart(BaseModel):
    """The body of a start: the pipeline's parameters, passed to the container."""

    params: dict[str, Any] = {}
