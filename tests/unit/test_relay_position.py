"""Where a stream's relay resumes (unit, no network): to the same orchestrator, from where it
got; to a new one after a swap, from the first client segment the previous one took and never
answered, so a segment in flight when an orchestrator died is sent again, not lost."""

from __future__ import annotations

import httpx

from tollway.activities.relay import RelayActivities, RelayInput, RelayPosition
from tollway.activities.streams import StreamUrls
from tollway.streams.trickle import Channels


def relay_to(orchestrator: str) -> RelayInput:
    return RelayInput(stream_id="s", urls=StreamUrls(orchestrator=orchestrator))


def activities_after(previous: RelayPosition) -> RelayActivities:
    relays = RelayActivities(Channels(), httpx.AsyncClient(), segment_limit=1024)
    relays._positions["s"] = previous
    return relays


def test_a_new_orchestrator_starts_from_the_first_segment_not_answered() -> None:
    # Client segments 4.. went to the old orchestrator as its 0..; its outputs 0..5 came back,
    # so client segment 10 was taken and never answered.
    previous = RelayPosition(
        orchestrator="http://old",
        push_local_next=11,
        push_offset=-4,
        pull_next=6,
        pull_offset=3,
        out_next=9,
        data_out_next=2,
    )
    position = activities_after(previous)._position(relay_to("http://new"))
    assert position.orchestrator == "http://new"
    assert position.push_local_next == 10 and position.push_offset is None
    assert position.pull_next == 0 and position.pull_offset is None
    assert (position.out_next, position.data_out_next) == (9, 2)


def test_the_same_orchestrator_resumes_where_its_relay_got() -> None:
    previous = RelayPosition(
        orchestrator="http://old", push_local_next=11, push_offset=-4, pull_next=6, pull_offset=3
    )
    assert activities_after(previous)._position(relay_to("http://old")) == previous


def test_with_no_output_read_a_new_orchestrator_starts_from_the_newest() -> None:
    previous = RelayPosition(orchestrator="http://old", push_local_next=11, push_offset=-4)
    position = activities_after(previous)._position(relay_to("http://new"))
    assert position.push_local_next is None


def test_a_first_relay_starts_from_the_newest() -> None:
    relays = RelayActivities(Channels(), httpx.AsyncClient(), segment_limit=1024)
    position = relays._position(relay_to("http://one"))
    assert position == RelayPosition(orchestrator="http://one")
