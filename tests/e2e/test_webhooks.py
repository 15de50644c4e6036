"""Webhooks on the embedded stack: a receiver that fails its first three deliveries still gets
every event of a job once its retries succeed, each signature verifies with `standardwebhooks`,
the delivery log shows every attempt, and a replay sends the same message again."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from tests.e2e.stack_client import ECHO_PRICE, StackClient, wait_for
from tollway.client import Client, verify_webhook
from tollway.errors import BadSignature

pytestmark = pytest.mark.e2e

FAILURES = 3


class Receiver:
    def __init__(self) -> None:
        self.failures = FAILURES
        self.lock = threading.Lock()
        self.requests: list[tuple[str, dict[str, str], bytes, int]] = []
        """(path, headers, body, the status answered), in order."""

    def delivered(self) -> list[tuple[str, dict[str, str], bytes]]:
        with self.lock:
            return [(p, h, b) for p, h, b, status in self.requests if status == 204]


@pytest.fixture
def receiver() -> Iterator[tuple[str, Receiver]]:
    """Answers 500 to its first `failures` (three) requests, 204 after."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.lock:
                status = 500 if len(state.requests) < state.failures else 204
                state.requests.append((self.path, dict(self.headers.items()), body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


def new_tenant(stack: StackClient) -> httpx.Client:
    """A client with a key of a tenant of its own (its webhooks see only its jobs)."""
    admin = {"Authorization": f"Bearer {stack.state.admin_key}"}
    base = stack.state.endpoints.gateway_api
    tenant = f"hook-{uuid.uuid4().hex[:6]}"
    assert httpx.post(f"{base}/v1/tenants", json={"name": tenant}, headers=admin).status_code == 201
    made = httpx.post(f"{base}/v1/keys", json={"tenant": tenant}, headers=admin).json()
    return httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {made['secret']}"}, timeout=60
    )


def key_of(client: httpx.Client) -> str:
    return client.headers["Authorization"].removeprefix("Bearer ")


def test_a_failing_receiver_still_gets_every_event_signed(
    stack: StackClient, receiver: tuple[str, Receiver]
) -> None:
    base, received = receiver
    with new_tenant(stack) as client:
        made = client.post("/v1/webhooks", json={"url": f"{base}/tenant"})
        assert made.status_code == 201, made.text
        tenant_secret = made.json()["secret"]
        job_secret = client.get("/v1/webhooks/default/secret").json()["secret"]
        assert tenant_secret.startswith("whsec_") and job_secret != tenant_secret

        submitted = client.post(
            "/v1/jobs",
            json={
                "capability": "echo",
                "input": {"hello": "hooks"},
                "max_price_wei_per_second": ECHO_PRICE,
                "webhook": f"{base}/job",
                "webhook_events_filter": ["job.succeeded"],
            },
        )
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["job_id"]
        wanted = {
            ("/tenant", "job.queued"),
            ("/tenant", "job.started"),
            ("/tenant", "job.succeeded"),
            ("/job", "job.succeeded"),
        }

        def got() -> set[tuple[str, str]]:
            return {(p, json.loads(b)["type"]) for p, _, b in received.delivered()}

        def log_of_job() -> list[dict[str, Any]]:
            page = client.get("/v1/webhook-deliveries", params={"job_id": job_id}).json()
            return list(page["data"])

        def all_delivered() -> bool:
            log = log_of_job()
            return got() >= wanted and {d["state"] for d in log} == {"delivered"}

        wait_for(all_delivered, "every event delivered past the failures", 60)
        delivered = received.delivered()
        assert got() == wanted  # job.started comes once per orchestrator tried
        ids = [h["webhook-id"] for _, h, _ in delivered]
        assert len(ids) == len(set(ids))  # each delivered once
        failed = [r for r in received.requests if r[3] == 500]
        assert len(failed) == FAILURES
        for path, headers, body in delivered:
            secret = tenant_secret if path == "/tenant" else job_secret
            event = Webhook(secret).verify(body, headers)
            assert event["data"]["id"] == job_id
            assert verify_webhook(secret, body, headers) == event  # the client's own check
            with pytest.raises(BadSignature):
                verify_webhook(secret, body.replace(b'"data"', b'"datb"'), headers)
        final = next(json.loads(b) for p, _, b in delivered if p == "/job")
        assert final["data"]["state"] == "succeeded" and int(final["data"]["cost_wei"]) > 0

        log = log_of_job()
        assert len(log) == len(delivered)
        assert sum(d["attempts"] for d in log) == len(delivered) + FAILURES
        retried = next(d for d in log if d["attempts"] > 1)
        detail = client.get(f"/v1/webhook-deliveries/{retried['id']}").json()
        assert [a["status"] for a in detail["attempt_log"]][-1] == 204
        assert 500 in [a["status"] for a in detail["attempt_log"]]

        with Client(stack.state.endpoints.gateway_api, key_of(client)) as typed:
            replayed = typed.replay_webhook_delivery(retried["id"])
            assert replayed.replays == 1 and replayed.id == retried["id"]
            assert typed.webhook_deliveries(job_id=job_id, state="delivered").data
        wait_for(
            lambda: [h["webhook-id"] for _, h, _ in received.delivered()].count(retried["id"]) == 2,
            "the replay delivered with the same message id",
            30,
        )


def test_webhook_requests_are_checked(stack: StackClient) -> None:
    with new_tenant(stack) as client:
        bad_url = client.post("/v1/webhooks", json={"url": "ftp://hooks.example/x"})
        assert bad_url.status_code == 400
        assert bad_url.json()["code"] == "WebhookTargetRefused"
        assert bad_url.json()["field"] == "url"
        bad_event = client.post(
            "/v1/webhooks", json={"url": "https://hooks.example/x", "event_types": ["job.gone"]}
        )
        assert bad_event.status_code == 400 and "event_types" in bad_event.text
        job = client.post(
            "/v1/jobs", json={"capability": "echo", "webhook": "gopher://hooks.example/"}
        )
        assert job.status_code == 400 and job.json()["code"] == "WebhookTargetRefused"
        assert client.get("/v1/webhooks/wh_nope").status_code == 404
        assert client.get("/v1/webhook-deliveries/msg_nope").status_code == 404
        assert client.post("/v1/webhook-deliveries/msg_nope/replay").status_code == 404
        made = client.post("/v1/webhooks", json={"url": "https://hooks.example/x"}).json()
        assert [w["id"] for w in client.get("/v1/webhooks").json()] == [made["id"]]
        assert "secret" not in client.get(f"/v1/webhooks/{made['id']}").json()
        assert client.delete(f"/v1/webhooks/{made['id']}").status_code == 204
        assert client.get("/v1/webhooks").json() == []
    admin = {"Authorization": f"Bearer {stack.state.admin_key}"}
    base = stack.state.endpoints.gateway_api
    made_key = httpx.post(
        f"{base}/v1/keys", json={"tenant": "default", "scopes": ["jobs:read"]}, headers=admin
    ).json()
    reader = {"Authorization": f"Bearer {made_key['secret']}"}
    refused = httpx.get(f"{base}/v1/webhooks", headers=reader)
    assert refused.status_code == 403 and "webhooks" in refused.json()["detail"]


def test_events_wait_out_a_killed_gateway_worker(
    stack: StackClient, receiver: tuple[str, Receiver]
) -> None:
    """The outbox keeps a job's events while no gateway worker runs to start their deliveries
    (the API's own worker runs the job); the restarted worker sends every one."""
    base, received = receiver
    received.failures = 0
    with new_tenant(stack) as client:
        assert client.post("/v1/webhooks", json={"url": f"{base}/tenant"}).status_code == 201
        worker = stack.stop("gateway-worker")  # SIGKILL
        try:
            submitted = client.post(
                "/v1/jobs",
                json={"capability": "echo", "input": "x", "max_price_wei_per_second": ECHO_PRICE},
                headers={"Prefer": "wait=30"},
            )
            assert submitted.status_code == 200, submitted.text
            job_id = submitted.json()["job_id"]
            log = client.get("/v1/webhook-deliveries", params={"job_id": job_id}).json()
            # job.started once per orchestrator tried (the stack's dead one may come first)
            assert {d["event_type"] for d in log["data"]} == {
                "job.queued",
                "job.started",
                "job.succeeded",
            }
            assert {d["attempts"] for d in log["data"]} == {0} and received.requests == []
        finally:
            stack.start("gateway-worker", worker)
        kept = len(log["data"])
        wait_for(lambda: len(received.delivered()) == kept, "the kept events delivered", 60)
        assert {h["webhook-id"] for _, h, _ in received.delivered()} == {
            d["id"] for d in log["data"]
        }
