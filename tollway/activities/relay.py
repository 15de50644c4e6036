"""The relay of one stream, run by the gateway API that holds the client's trickle channels
(on its own task queue): the client's video in is pushed to the orchestrator's channel, the
orchestrator's video out is pulled into the client's, each segment as it is written. It runs
until the stream stops (the workflow cancels it), the orchestrator fails (it raises, and the
workflow moves the stream to another: a relay that breaks, a channel it closes, a container
that sends no event for `event_silence_seconds`), or the client goes away (it returns why,
and the workflow stops the stream: the client closed its channel or sent nothing for
`client_idle_seconds`); it heartbeats, so a gateway API that dies is noticed and
the relay starts again when it is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, NamedTuple

import httpx
from pydantic import BaseModel
from temporalio import activity

from tollway import metrics
from tollway.activities.heartbeat import heartbeating
from tollway.activities.streams import StreamUrls
from tollway.errors import OrchestratorFailed, to_application_error
from tollway.streams.relay import (
    ContainerSilent,
    RemoteChannelGone,
    pull,
    push,
    wait_client_gone,
    watch_events,
)
from tollway.streams.trickle import Channels

__all__ = [
    "ClientChannels",
    "RelayActivities",
    "RelayInput",
    "RelayPosition",
    "client_channels",
]

HEARTBEAT_SECONDS = 1.0


class RelayInput(BaseModel):
    stream_id: str
    urls: StreamUrls
    event_silence_seconds: float = 30.0
    client_idle_seconds: float = 60.0


class ClientChannels(NamedTuple):
    """The gateway's channels of one stream: the client publishes to `video_in`, reads
    `video_out`, and follows `data` (`/process/stream/{id}/data`)."""

    video_in: str
    video_out: str
    data: str


def client_channels(stream_id: str) -> ClientChannels:
    return ClientChannels(stream_id, f"{stream_id}-out", f"{stream_id}-data")


class RelayPosition(BaseModel):
    """How far a stream's relay to one orchestrator has got: what a relay that starts again
    (after its gateway API restarted, or in a workflow's next run) resumes from, so that the
    client gets no segment twice and its channels number on."""

    orchestrator: str
    pull_next: int = 0
    """The orchestrator's video-out segment to read next."""
    pull_offset: int | None = None
    """The client's video-out number of the orchestrator's segment 0."""
    data_next: int = 0
    data_offset: int | None = None
    push_local_next: int | None = None
    """The client's segment to send next (None: from the newest)."""
    push_offset: int | None = None
    """The orchestrator's video-in number of the client's segment 0."""
    out_next: int = 0
    """The number the client's video out goes on with (a channel made again starts there)."""
    data_out_next: int = 0


def _first_unanswered(previous: RelayPosition) -> int | None:
    """The client's first segment sent to the previous orchestrator whose output never came
    back, counting one segment out per segment in: where the next orchestrator starts, so that
    the segments the previous one held when it died are not lost. None (from the newest) when
    nothing was sent or no output was read; `push` goes on from the newest when this one has
    left the channel's window, or lies ahead of it."""
    if previous.push_offset is None or previous.pull_offset is None:
        return None
    return -previous.push_offset + previous.pull_next


class RelayActivities:
    def __init__(self, channels: Channels, http: httpx.AsyncClient, segment_limit: int) -> None:
        self._channels = channels
        self._http = http
        self._limit = segment_limit
        self._positions: dict[str, RelayPosition] = {}
        """By stream: where its last relay in this process got to."""

    def open(self, stream_id: str, position: RelayPosition | None = None) -> None:
        names = client_channels(stream_id)
        self._channels.create(names.video_in, "video/MP2T")
        video_out = self._channels.create(names.video_out, "video/MP2T")
        data = self._channels.create(names.data, "application/json")
        if position is not None:  # channels made again after a restart number on
            video_out.next_write = max(video_out.next_write, position.out_next)
            data.next_write = max(data.next_write, position.data_out_next)

    def _position(self, request: RelayInput) -> RelayPosition:
        """Where this relay resumes: its previous attempt's last heartbeat, else this process's
        last relay of the stream, when either was to the same orchestrator; to a new one, from
        the first segment the previous orchestrator took and never answered."""
        orchestrator = request.urls.orchestrator
        found: list[RelayPosition] = []
        if activity.in_activity() and activity.info().heartbeat_details:
            found.append(RelayPosition.model_validate(activity.info().heartbeat_details[0]))
        previous = self._positions.get(request.stream_id)
        if previous is not None:
            found.append(previous)
        same = [p for p in found if p.orchestrator == orchestrator]
        if same:
            return same[0]
        return RelayPosition(  # a new orchestrator: the client's channels still number on
            orchestrator=orchestrator,
            push_local_next=_first_unanswered(previous) if previous else None,
            out_next=max((p.out_next for p in found), default=0),
            data_out_next=max((p.data_out_next for p in found), default=0),
        )

    @activity.defn(name="relay_stream")
    async def relay(self, request: RelayInput) -> str | None:
        """Relay until the orchestrator fails (raises: the stream moves on) or the client goes
        away (returns why: the stream stops)."""
        position = self._position(request)
        self._positions[request.stream_id] = position
        self.open(request.stream_id, position)  # again, after this process restarted
        names = client_channels(request.stream_id)
        urls = request.urls

        def pulled(seq: int, offset: int) -> None:
            position.pull_next, position.pull_offset = seq, offset
            position.out_next = seq + offset

        def pulled_data(seq: int, offset: int) -> None:
            position.data_next, position.data_offset = seq, offset
            position.data_out_next = seq + offset

        def pushed(local: int, offset: int) -> None:
            position.push_local_next, position.push_offset = local, offset

        pumps: list[asyncio.Future[None]] = []
        client_gone: asyncio.Future[str] | None = None
        video_in, video_out = (
            self._channels.get(names.video_in),
            self._channels.get(names.video_out),
        )
        data = self._channels.get(names.data)
        if urls.publish_url and video_in is not None:
            sending = push(
                self._http,
                video_in,
                urls.publish_url,
                position.push_local_next,
                position.push_offset,
                pushed,
            )
            pumps.append(asyncio.ensure_future(sending))
            client_gone = asyncio.ensure_future(
                wait_client_gone(video_in, request.client_idle_seconds)
            )
        if urls.subscribe_url and video_out is not None:
            receiving = pull(
                self._http,
                urls.subscribe_url,
                video_out,
                self._limit,
                position.pull_next,
                position.pull_offset,
                pulled,
            )
            pumps.append(asyncio.ensure_future(receiving))
        if urls.data_url and data is not None:
            notes = pull(
                self._http,
                urls.data_url,
                data,
                self._limit,
                position.data_next,
                position.data_offset,
                pulled_data,
            )
            pumps.append(asyncio.ensure_future(notes))
        if urls.events_url:
            pumps.append(
                asyncio.ensure_future(
                    watch_events(self._http, urls.events_url, request.event_silence_seconds)
                )
            )
        if not pumps:
            return None
        watched: list[asyncio.Future[Any]] = [*pumps, *([client_gone] if client_gone else [])]
        metrics.STREAMS_RELAYED.inc()
        try:
            done, _ = await heartbeating(
                asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED),
                HEARTBEAT_SECONDS,
                position.model_dump,
            )
            if client_gone is not None and client_gone in done:
                return client_gone.result()
            for pump in done:
                pump.result()
            if video_in is not None and video_in.closed:
                return "the client closed its channel"
            metrics.STREAM_SWAPS.labels("channels_closed").inc()
            raise to_application_error(
                OrchestratorFailed(f"{urls.orchestrator} closed the stream's channels")
            )
        except (RemoteChannelGone, ContainerSilent, httpx.HTTPError) as exc:
            reason = "container_silent" if isinstance(exc, ContainerSilent) else "relay_failed"
            metrics.STREAM_SWAPS.labels(reason).inc()
            raise to_application_error(
                OrchestratorFailed(f"{urls.orchestrator}: the relay failed: {exc}")
            ) from exc
        finally:
            metrics.STREAMS_RELAYED.dec()
            for pump in watched:
                pump.cancel()

    @activity.defn(name="close_stream_channels")
    async def close(self, stream_id: str) -> None:
        self._positions.pop(stream_id, None)
        for name in client_channels(stream_id):
            await self._channels.close(name)

    def all(self) -> list[Callable[..., Any]]:
        return [self.relay, self.close]
