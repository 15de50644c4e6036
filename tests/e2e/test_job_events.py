"""A job's events through the gateway: as JSON, and as server-sent events that resume after
`Last-Event-ID` with nothing missed and nothing twice."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.stack_client import StackClient

pytestmark = pytest.mark.e2e

SLEEPY = {
    "capability": "echo",
    "path": "/sleep",
    "input": {"seconds": 2},
    "max_price_wei_per_second": 10**14,
}


def sse(answer: httpx.Response) -> list[dict[str, str]]:
    """The events of an SSE answer (pings, comments, dropped), read until it ends."""
    events: list[dict[str, str]] = []
    event: dict[str, str] = {}
    for line in answer.iter_lines():
        if not line:
            if "event" in event:
                events.append(event)
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            event[name] = value.strip()
    return events


def test_events_resume_from_last_event_id(stack: StackClient) -> None:
    job_id = stack.gateway.post("/v1/jobs", json=SLEEPY).json()["job_id"]
    headers = {"Accept": "text/event-stream"}
    with stack.gateway.stream("GET", f"/v1/jobs/{job_id}/events", headers=headers) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        first: dict[str, str] = {}
        for line in answer.iter_lines():  # read one event, then hang up
            if line.startswith(("id:", "event:")):
                name, _, value = line.partition(":")
                first[name] = value.strip()
            if len(first) == 2:
                break
    assert first == {"id": "1", "event": "job.queued"}
    with stack.gateway.stream(
        "GET", f"/v1/jobs/{job_id}/events", headers={**headers, "Last-Event-ID": "1"}
    ) as answer:
        rest = sse(answer)
    assert [e["event"] for e in rest] == ["job.started", "job.succeeded", "done"]
    assert [e.get("id") for e in rest[:2]] == ["2", "3"]
    succeeded = json.loads(rest[1]["data"])
    assert succeeded["data"]["state"] == "succeeded" and int(succeeded["data"]["cost_wei"]) > 0
    assert json.loads(rest[0]["data"])["data"]["orchestrator"].startswith("http://127.0.0.1")

    listed = stack.gateway.get(f"/v1/jobs/{job_id}/events").json()
    assert [e["type"] for e in listed] == ["job.queued", "job.started", "job.succeeded"]
    assert [
        e["seq"] for e in stack.gateway.get(f"/v1/jobs/{job_id}/events", params={"after": 2}).json()
    ] == [3]
    bad = stack.gateway.get(f"/v1/jobs/{job_id}/events", headers={**headers, "Last-Event-ID": "x"})
    assert bad.status_code == 400 and bad.json()["field"] == "Last-Event-ID"
    assert stack.gateway.get("/v1/jobs/default.nope/events").status_code == 404
