"""The jobs API's manners on the embedded stack: problem details for every error (the router's
404 and 405 included), `X-Request-Id` on every answer, per-key rate limits with their headers
and 429 `Retry-After`, a cap on jobs in flight, and `Prefer: wait`."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.stack_client import StackClient

pytestmark = pytest.mark.e2e

JOB = {"capability": "echo", "input": {"hi": 1}, "max_price_wei_per_second": 10**14}
SLEEPY = {**JOB, "path": "/sleep", "input": {"seconds": 3}}


def keyed(stack: StackClient, **key: object) -> httpx.Client:
    """A client with a fresh tenant's key of `key`'s fields."""
    admin = {"Authorization": f"Bearer {stack.state.admin_key}"}
    base = stack.state.endpoints.gateway_api
    tenant = f"api-{uuid.uuid4().hex[:6]}"
    assert httpx.post(f"{base}/v1/tenants", json={"name": tenant}, headers=admin).status_code == 201
    made = httpx.post(f"{base}/v1/keys", json={"tenant": tenant, **key}, headers=admin)
    assert made.status_code == 201, made.text
    secret = made.json()["secret"]
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=90)


def test_router_errors_are_problem_details_with_a_request_id(stack: StackClient) -> None:
    missing = stack.gateway.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "NotFound" and missing.json()["instance"] == "/v1/nothing-here"
    wrong = stack.gateway.put("/v1/jobs")
    assert wrong.status_code == 405 and wrong.json()["code"] == "MethodNotAllowed"
    assert "POST" in wrong.headers["Allow"]
    mine = stack.gateway.get("/healthz", headers={"X-Request-Id": "trace-42"})
    assert mine.headers["X-Request-Id"] == "trace-42"
    fresh = stack.gateway.get("/healthz", headers={"X-Request-Id": "no spaces allowed"})
    assert len(fresh.headers["X-Request-Id"]) == 32
    invalid = stack.gateway.post("/v1/jobs", json={"capability": "echo", "timeout_seconds": "9"})
    assert invalid.status_code == 400 and invalid.json()["field"] == "timeout_seconds"
    assert invalid.json()["errors"][0]["field"] == "timeout_seconds"
    orchestrator = stack.orchestrator.get("/nope")
    assert orchestrator.status_code == 404 and orchestrator.json()["code"] == "NotFound"
    assert orchestrator.headers["X-Request-Id"]


def test_rate_limits_answer_headers_then_429(stack: StackClient) -> None:
    with keyed(stack, limits={"read_per_minute": 3, "create_per_minute": 2}) as client:
        first = client.get("/v1/jobs")
        assert first.headers["RateLimit-Policy"] == '"read";q=3;w=60'
        assert first.headers["RateLimit"].startswith('"read";r=2;t=')
        client.get("/v1/jobs")
        client.get("/v1/jobs")
        limited = client.get("/v1/jobs")
        assert limited.status_code == 429 and limited.json()["code"] == "RateLimited"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.json()["bucket"] == "read"
        # Creating has its own bucket.
        assert client.post("/v1/jobs", json=JOB).headers["RateLimit-Policy"].startswith('"create"')
        client.post("/v1/jobs", json=JOB)
        assert client.post("/v1/jobs", json=JOB).status_code == 429


def test_jobs_in_flight_are_capped_per_key(stack: StackClient) -> None:
    with keyed(stack, limits={"jobs_in_flight": 1}) as client:
        assert client.post("/v1/jobs", json=SLEEPY).status_code == 202
        second = client.post("/v1/jobs", json=SLEEPY)
        assert second.status_code == 429 and second.json()["bucket"] == "jobs_in_flight"
        assert second.headers["Retry-After"] == "1"


def test_prefer_wait_answers_the_finished_job(stack: StackClient) -> None:
    quick = stack.gateway.post("/v1/jobs", json=JOB, headers={"Prefer": "wait=20"})
    assert quick.status_code == 200, quick.text
    assert quick.headers["Preference-Applied"] == "wait=20"
    assert quick.json()["job"]["state"] == "succeeded"
    assert quick.json()["job"]["cost_wei"] > 0
    slow = stack.gateway.post("/v1/jobs", json=SLEEPY, headers={"Prefer": "wait=1"})
    assert slow.status_code == 202 and slow.json()["job"]["state"] not in ("succeeded", "failed")
    failing = stack.gateway.post(
        "/v1/jobs", json={**JOB, "path": "/fail", "max_attempts": 1}, headers={"Prefer": "wait"}
    )
    assert failing.status_code == 200 and failing.json()["job"]["state"] == "failed"
    assert failing.headers["Preference-Applied"] == "wait=60"
