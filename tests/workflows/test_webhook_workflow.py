"""WebhookDeliveryWorkflow keeps the gateway's default retry schedule, hours long, on durable
timers: with Temporal's time-skipping test server (its clock jumps over the waits) and the real
delivery activity (store on SQLite, sender to a real receiver on 127.0.0.1), a receiver that
fails for about eight hours gets the delivery at the attempt after, and one that never recovers
leaves it `failed` after every attempt of the schedule."""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tollway.activities.webhooks import WebhookActivities
from tollway.config import GatewaySettings
from tollway.devnet.toolpaths import venv_binary
from tollway.store.database import Database, open_database
from tollway.store.jobs import JobIndex
from tollway.store.tenants import TenantStore
from tollway.store.webhooks import WebhookStore
from tollway.webhooks.sender import WebhookSender
from tollway.workflows.webhook import WebhookDeliveryInput, WebhookDeliveryWorkflow

DEFAULT_SCHEDULE = GatewaySettings.model_fields["webhook_retry_seconds"].default


@pytest.fixture(scope="module")
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=venv_binary("temporal-test-server"),
    )
    try:
        yield env
    finally:
        await env.shutdown()


class Receiver:
    """Answers 503 to its first `failures` requests, then 204."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.seen: list[str] = []


@pytest.fixture
def receiver() -> Iterator[tuple[str, Receiver]]:
    state = Receiver(failures=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.seen.append(self.headers["webhook-id"])
            self.send_response(503 if len(state.seen) <= state.failures else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = open_database(f"sqlite:///{tmp_path / 'gateway.db'}")
    await TenantStore(db).create_tenant("acme")
    try:
        yield db
    finally:
        await db.close()


async def deliver_one(
    env: WorkflowEnvironment, database: Database, url: str
) -> tuple[bool, str, timedelta]:
    """Queue one event for a webhook at `url` and run its delivery workflow to the end: whether
    it was delivered, its id, and how long it took on the workflow's clock."""
    store = WebhookStore(database)
    await store.create("acme", url, ["job.queued"])
    await JobIndex(database).add(f"acme.{uuid.uuid4().hex}", "acme", None, "echo", "artifact")
    [delivery_id] = await store.undispatched()
    await store.mark_dispatched(delivery_id)
    queue = f"webhooks-{uuid.uuid4()}"
    async with (
        httpx.AsyncClient() as http,
        Worker(
            env.client,
            task_queue=queue,
            workflows=[WebhookDeliveryWorkflow],
            activities=[
                WebhookActivities(
                    store, WebhookSender(http, allow_private=True, timeout_seconds=5)
                ).deliver
            ],
        ),
    ):
        handle = await env.client.start_workflow(
            WebhookDeliveryWorkflow.run,
            WebhookDeliveryInput(delivery_id=delivery_id, retry_seconds=DEFAULT_SCHEDULE),
            id=f"webhook-{delivery_id}",
            task_queue=queue,
        )
        delivered = await handle.result()
    described = await handle.describe()
    assert described.close_time is not None
    return delivered, delivery_id, described.close_time - described.start_time


async def test_a_receiver_down_for_hours_gets_the_delivery_later(
    skipping_env: WorkflowEnvironment, database: Database, receiver: tuple[str, Receiver]
) -> None:
    url, state = receiver
    state.failures = 5  # at once, 5 s, 5 min, 30 min, 2 h: the sixth attempt (after 5 h) lands
    delivered, delivery_id, took = await deliver_one(skipping_env, database, url)
    assert delivered is True
    assert state.seen == [delivery_id] * 6  # one message id on every attempt
    waited = sum(DEFAULT_SCHEDULE[:5])
    assert timedelta(seconds=waited) <= took < timedelta(seconds=waited + 600)
    record = await WebhookStore(database).delivery("acme", delivery_id)
    assert (record.state, record.attempts) == ("delivered", 6)
    assert [a.status for a in record.attempt_log or []] == [503] * 5 + [204]


async def test_a_receiver_that_never_recovers_leaves_it_failed(
    skipping_env: WorkflowEnvironment, database: Database, receiver: tuple[str, Receiver]
) -> None:
    url, state = receiver
    state.failures = 1000
    delivered, delivery_id, took = await deliver_one(skipping_env, database, url)
    assert delivered is False
    assert len(state.seen) == len(DEFAULT_SCHEDULE) + 1
    assert took >= timedelta(seconds=sum(DEFAULT_SCHEDULE)) > timedelta(hours=24)
    record = await WebhookStore(database).delivery("acme", delivery_id)
    assert (record.state, record.attempts, record.last_status) == (
        "failed",
        len(DEFAULT_SCHEDULE) + 1,
        503,
    )
