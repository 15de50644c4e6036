"""`tollway.client` and `tollway jobs` against the embedded stack: typed answers, errors raised
as the gateway's own classes, events followed live, and the CLI's commands end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from tests.e2e.stack_client import StackClient
from tollway.client import AsyncClient, Client
from tollway.errors import Forbidden, IdempotencyKeyReused, NotFound

pytestmark = pytest.mark.e2e

PRICE = 10**14


def test_the_sync_client(stack: StackClient) -> None:
    url = stack.state.endpoints.gateway_api
    with Client(url, stack.state.api_key) as client:
        accepted = client.submit(
            "echo", {"hello": "client"}, wait=30, max_price_wei_per_second=PRICE
        )
        assert accepted.job is not None and accepted.job.state == "succeeded"
        job_id = accepted.job_id
        assert json.loads(client.output(job_id)) == {"hello": "client"}
        assert client.get(job_id).cost_wei == accepted.job.cost_wei
        assert job_id in [r.id for r in client.page(capability="echo", limit=5).data]
        events = [e.type for e in client.events(job_id)]
        assert events == ["job.queued", "job.started", "job.succeeded"]
        raw = client.submit(
            "echo", input_bytes=b"\x00\x01", wait=30, max_price_wei_per_second=PRICE
        )
        assert client.output(raw.job_id) == b"\x00\x01"
        with pytest.raises(NotFound) as missing:
            client.get("default.no-such-job")
        assert missing.value.details["status"] == 404
        client.submit(
            "echo", {"n": 1}, idempotency_key="client-same", max_price_wei_per_second=PRICE
        )
        with pytest.raises(IdempotencyKeyReused):
            client.submit(
                "echo", {"n": 2}, idempotency_key="client-same", max_price_wei_per_second=PRICE
            )
    reader = httpx.post(
        f"{url}/v1/keys",
        json={"scopes": ["jobs:read"]},
        headers={"Authorization": f"Bearer {stack.state.api_key}"},
    ).json()["secret"]
    with Client(url, reader) as read_only, pytest.raises(Forbidden) as refused:
        read_only.submit("echo", {})
    assert refused.value.details["scope"] == "jobs:write"


async def test_the_async_client_follows_events_live(stack: StackClient) -> None:
    async with AsyncClient(stack.state.endpoints.gateway_api, stack.state.api_key) as client:
        accepted = await client.submit(
            "echo", {"seconds": 1}, path="/sleep", max_price_wei_per_second=PRICE
        )
        seen = [event.type async for event in client.events(accepted.job_id)]
        assert seen == ["job.queued", "job.started", "job.succeeded"]
        assert (await client.get(accepted.job_id)).state == "succeeded"
        assert [r.jobs for r in await client.usage(group_by="capability")] != []


def test_the_jobs_cli(stack: StackClient) -> None:
    def tollway(*args: str, code: int = 0) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "tollway", "jobs", *args, "--dir", stack.state.directory],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == code, done.stdout + done.stderr
        return done.stdout + done.stderr

    shown = tollway("submit", "echo", "--input", '{"cli": true}', "--max-price", "10" + "0" * 13,
                    "--wait", "30")  # fmt: skip
    assert "succeeded" in shown
    job_id = next(line.split()[1] for line in shown.splitlines() if line.startswith("job_id"))
    assert json.loads(tollway("output", job_id)) == {"cli": True}
    watched = tollway("watch", job_id)
    assert "job.queued" in watched and "job.succeeded" in watched
    listed = json.loads(tollway("list", "--capability", "echo", "--json"))
    assert job_id in [r["id"] for r in listed["data"]]
    assert json.loads(tollway("get", job_id, "--json"))["state"] == "succeeded"
    failed = tollway("get", "default.nope", code=1)
    assert "NotFound" in failed
    sleeping = tollway("submit", "echo", "--path", "/sleep", "--input", '{"seconds": 20}',
                       "--max-price", "10" + "0" * 13).strip()  # fmt: skip
    canceled = tollway("cancel", sleeping)
    assert "canceled" in canceled
    assert "Conflict" in tollway("cancel", sleeping, code=1)
