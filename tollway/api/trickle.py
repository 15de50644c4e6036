"""A trickle server (`/ai/trickle/`): go-livepeer's pub-sub of numbered segments, served by the
orchestrator (its streams' channels) and by the gateway (its clients' channels, relayed).

`POST /{channel}/{seq}` publishes segment `seq` as its body arrives; `GET /{channel}/{seq}`
answers it as it is written (`-1`: the next one; below that: the one being written, or the last
written), with `Lp-Trickle-Seq`, and `Lp-Trickle-Latest` when another is newer. `GET
/{channel}/next` tells the next number. 404: no such channel; 470: a segment no longer (or not
yet) held, with `Lp-Trickle-Latest` to jump to; a closed channel answers `Lp-Trickle-Closed:
terminated`. Channels are created by their server for its streams (the orchestrator also
answers `POST /{channel}` with its secret) and closed by `DELETE`, or when nothing was written
to them for `trickle_idle_seconds`. Each app's `state.services` holds `trickle` (the channels)
and `settings.trickle_max_segment_bytes`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from tollway import metrics
from tollway.api.openapi import binary_body, hand_read, problems
from tollway.errors import BadRequest, BodyTooLarge, NotFound
from tollway.streams.trickle import LATEST, Channel, Channels, Segment, SegmentTooLarge

__all__ = ["SegmentResponse", "TrickleHost", "router"]


class _Settings(Protocol):
    trickle_max_segment_bytes: int


class TrickleHost(Protocol):
    """What an app's services give the trickle routes."""

    trickle: Channels
    settings: _Settings


def _host(request: Request) -> TrickleHost:
    host: TrickleHost = request.app.state.services
    return host


Host = Annotated[TrickleHost, Depends(_host)]

ChannelName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,128}$")]
SEQ_HEADER = "Lp-Trickle-Seq"
LATEST_HEADER = "Lp-Trickle-Latest"
CLOSED_HEADER = "Lp-Trickle-Closed"
NOT_HELD = 470
MPEG_TS = "video/MP2T"
TS_PACKET = 188
TS_SYNC = 0x47


def _channel(services: TrickleHost, name: str) -> Channel:
    channel = services.trickle.get(name)
    if channel is None:
        raise NotFound(f"no trickle channel {name!r}")
    return channel


def _not_held(channel: Channel, seq: int) -> Response:
    return Response(
        f"segment {seq} of {channel.name!r} is not held; the latest is {channel.next_write}",
        status_code=NOT_HELD,
        headers={LATEST_HEADER: str(channel.next_write), SEQ_HEADER: str(seq)},
        media_type="text/plain",
    )


async def create_channel(
    channel: ChannelName,
    services: Host,
    expect_content: Annotated[str | None, Header()] = None,
) -> dict[str, str]:
    created = services.trickle.create(channel, expect_content or "application/octet-stream")
    return {"channel": created.name, "mime_type": created.mime_type}


async def close_channel(channel: ChannelName, services: Host) -> dict[str, str]:
    if not await services.trickle.close(channel):
        raise NotFound(f"no trickle channel {channel!r}")
    return {"closed": channel}


async def next_segment(channel: ChannelName, services: Host) -> Response:
    found = _channel(services, channel)
    latest = str(found.next_write)
    return Response(latest, headers={LATEST_HEADER: latest}, media_type="text/plain")


async def publish(
    channel: ChannelName,
    seq: int,
    request: Request,
    services: Host,
    lp_trickle_reset: Annotated[str | None, Header()] = None,
) -> dict[str, int]:
    found = _channel(services, channel)
    if seq < LATEST:
        raise BadRequest(f"segment number {seq}: -1 (the next) or a number from 0", field="seq")
    if lp_trickle_reset is not None:  # the publisher restarted its numbering
        await found.restart(seq)
    limit = services.settings.trickle_max_segment_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:  # refused before a byte goes on
        raise BodyTooLarge(f"segment {seq} of {channel!r} exceeds the {limit}-byte limit")
    segment = await found.for_write(seq)
    check = found.mime_type == MPEG_TS
    head = b""
    size = 0
    try:
        async for chunk in request.stream():
            if check:  # hold the first packets back until they show MPEG-TS
                head += chunk
                if len(head) < 2 * TS_PACKET:
                    continue
                _check_ts(head, channel, segment.seq)
                chunk, head, check = head, b"", False
            if not chunk:
                continue
            if size == 0:
                found.wrote(segment.seq)
            await segment.write(chunk, limit)
            size += len(chunk)
        if head:
            _check_ts(head, channel, segment.seq)
            found.wrote(segment.seq)
            await segment.write(head, limit)
            size += len(head)
    except SegmentTooLarge as exc:
        await _drop(found, segment)
        raise BodyTooLarge(str(exc)) from exc
    except BadRequest:
        await _drop(found, segment)
        raise
    except ClientDisconnect:
        pass  # what arrived stands; readers see the segment end
    finally:
        await segment.close()
        metrics.TRICKLE_SEGMENTS.labels("published").inc()
        metrics.TRICKLE_BYTES.labels("published").inc(size)
    return {"seq": segment.seq, "bytes": size}


async def _drop(channel: Channel, segment: Segment) -> None:
    """Nothing of a refused segment goes on; its number is used up."""
    await segment.abort()
    channel.wrote(segment.seq)


def _check_ts(head: bytes, channel: str, seq: int) -> None:
    """A video segment must be MPEG-TS: 188-byte packets, each starting with the sync byte."""
    for at in range(0, min(len(head), 2 * TS_PACKET), TS_PACKET):
        if head[at] != TS_SYNC:
            raise BadRequest(
                f"segment {seq} of {channel!r} is not MPEG-TS: byte {at} is {head[at]:#04x}, "
                f"not the sync byte {TS_SYNC:#04x}",
                field="body",
            )


async def close_segment(channel: ChannelName, seq: int, services: Host) -> dict[str, int]:
    found = _channel(services, channel)
    segment = found.held(seq)
    if segment is None:
        raise NotFound(f"segment {seq} of {channel!r} is not held")
    await segment.close()
    return {"closed": seq}


async def subscribe(channel: ChannelName, seq: int, services: Host) -> Response:
    found = _channel(services, channel)
    latest = found.next_write
    segment = found.for_read(seq)
    if segment is None:
        return _not_held(found, seq)
    return SegmentResponse(found, segment, latest)


def router(create_dependencies: Sequence[Any] | None) -> APIRouter:
    """The trickle routes; with `create_dependencies` (the orchestrator's secret check),
    `POST /{channel}` creates a channel too."""
    routes = APIRouter(prefix="/ai/trickle")
    if create_dependencies is not None:
        routes.post("/{channel}", dependencies=list(create_dependencies))(create_channel)
    routes.delete("/{channel}", responses=problems(NotFound))(close_channel)
    routes.get(
        "/{channel}/next",
        response_class=PlainTextResponse,
        responses={
            200: {"description": "The next segment's number.", "headers": _headers(LATEST_HEADER)},
            **problems(NotFound),
        },
    )(next_segment)
    routes.post(
        "/{channel}/{seq}",
        responses=problems(BadRequest, NotFound, BodyTooLarge),
        openapi_extra=hand_read(binary_body("The segment, passed on to readers as it arrives.")),
    )(publish)
    routes.delete("/{channel}/{seq}", responses=problems(NotFound))(close_segment)
    routes.get(
        "/{channel}/{seq}",
        response_class=Response,
        responses={
            200: {
                "description": "The segment, as it is written, in the channel's media type; "
                f"empty with `{CLOSED_HEADER}` once the channel closed.",
                "content": {"*/*": {}},
                "headers": _headers(SEQ_HEADER, LATEST_HEADER, CLOSED_HEADER),
            },
            NOT_HELD: {
                "description": f"The segment is no longer (or not yet) held: `{LATEST_HEADER}` "
                "names the one to jump to.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
                "headers": _headers(SEQ_HEADER, LATEST_HEADER),
            },
            **problems(NotFound),
        },
    )(subscribe)
    return routes


_HEADER_MEANINGS = {
    SEQ_HEADER: "The segment's number.",
    LATEST_HEADER: "The newest segment's number, when another is newer than this one.",
    CLOSED_HEADER: "`terminated`: the channel closed.",
}


def _headers(*names: str) -> dict[str, Any]:
    return {
        name: {"description": _HEADER_MEANINGS[name], "schema": {"type": "string"}}
        for name in names
    }


class SegmentResponse(Response):
    """A segment sent as it is written. Its head waits for the first bytes: a segment that
    ends empty is the channel's end (`Lp-Trickle-Closed`) or not held after all (470)."""

    def __init__(self, channel: Channel, segment: Segment, latest: int) -> None:
        super().__init__(media_type=channel.mime_type)
        self._channel = channel
        self._segment = segment
        self._latest = latest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streaming = asyncio.ensure_future(self._stream(send))
        hung_up = asyncio.ensure_future(_disconnected(receive))
        done, _ = await asyncio.wait({streaming, hung_up}, return_when=asyncio.FIRST_COMPLETED)
        for task in (streaming, hung_up):
            if task not in done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if streaming in done:
            streaming.result()

    async def _stream(self, send: Send) -> None:
        chunks = self._segment.chunks()
        first = await anext(chunks, None)
        seq = str(self._segment.seq)
        if first is None:
            channel = self._channel
            if channel.closed:
                headers = [(SEQ_HEADER, seq), (CLOSED_HEADER, "terminated")]
                await _send_whole(send, 200, headers, b"")
            else:
                text = f"segment {seq} ended empty; the latest is {channel.next_write}"
                headers = [(SEQ_HEADER, seq), (LATEST_HEADER, str(channel.next_write))]
                await _send_whole(send, NOT_HELD, headers, text.encode())
            return
        headers = [(SEQ_HEADER, seq), ("Content-Type", self._channel.mime_type)]
        if self._segment.seq != self._latest:
            headers.append((LATEST_HEADER, str(self._latest)))
        await send({"type": "http.response.start", "status": 200, "headers": _raw(headers)})
        await send({"type": "http.response.body", "body": first, "more_body": True})
        served = len(first)
        async for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            served += len(chunk)
        if self._segment.aborted:
            return  # dropped where it came from: the answer breaks off, unfinished
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        metrics.TRICKLE_SEGMENTS.labels("served").inc()
        metrics.TRICKLE_BYTES.labels("served").inc(served)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _send_whole(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    headers = [*headers, ("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    await send({"type": "http.response.start", "status": status, "headers": _raw(headers)})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _raw(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode(), value.encode()) for name, value in headers]
