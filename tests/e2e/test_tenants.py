"""Tenants and API keys on the embedded stack: the operator's admin API and CLI, scopes and
capabilities enforced, rotation with a grace period, revocation seen at once by two gateway API
processes on one database, and idempotency keys that refuse another body."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack_client import StackClient, wait_for
from tollway.devnet import processes
from tollway.netutil import free_port

pytestmark = pytest.mark.e2e

ECHO_JOB = {"capability": "echo", "input": {"hi": 1}, "max_price_wei_per_second": 10**14}


@pytest.fixture(scope="module")
def operator(stack: StackClient) -> Iterator[httpx.Client]:
    assert stack.state.admin_key.startswith("tw_")
    with httpx.Client(
        base_url=stack.state.endpoints.gateway_api,
        headers={"Authorization": f"Bearer {stack.state.admin_key}"},
        timeout=30,
    ) as client:
        yield client


@pytest.fixture(scope="module")
def tenant(operator: httpx.Client) -> str:
    name = f"acme-{uuid.uuid4().hex[:6]}"
    made = operator.post("/v1/tenants", json={"name": name})
    assert made.status_code == 201, made.text
    again = operator.post("/v1/tenants", json={"name": name})
    assert again.status_code == 409 and again.json()["code"] == "Conflict"
    return name


def new_key(operator: httpx.Client, tenant: str, **fields: object) -> tuple[str, str]:
    made = operator.post("/v1/keys", json={"tenant": tenant, **fields})
    assert made.status_code == 201, made.text
    body = made.json()
    return body["key"]["id"], body["secret"]


def as_key(stack: StackClient, secret: str, base_url: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=base_url or stack.state.endpoints.gateway_api,
        headers={"Authorization": f"Bearer {secret}"},
        timeout=60,
    )


def test_scopes_and_capabilities_are_enforced(
    stack: StackClient, operator: httpx.Client, tenant: str
) -> None:
    _, reader_secret = new_key(operator, tenant, scopes=["jobs:read"])
    with as_key(stack, reader_secret) as reader:
        refused = reader.post("/v1/jobs", json=ECHO_JOB)
        assert refused.status_code == 403
        problem = refused.json()
        assert refused.headers["content-type"] == "application/problem+json"
        assert problem == {
            "type": "urn:tollway:problem:forbidden",
            "title": "Forbidden",
            "status": 403,
            "detail": "this API key lacks the scope 'jobs:write'",
            "code": "Forbidden",
            "scope": "jobs:write",
            "instance": "/v1/jobs",
            "request_id": refused.headers["X-Request-Id"],
        }
        assert reader.post("/v1/streams", json={"capability": "echo"}).status_code == 403
        assert reader.get("/v1/tenants").status_code == 403
        assert reader.get(f"/v1/jobs/{tenant}.nothing").status_code == 404

    _, echo_secret = new_key(
        operator, tenant, scopes=["jobs:write", "jobs:read"], capabilities=["echo"]
    )
    with as_key(stack, echo_secret) as writer:
        elsewhere = writer.post("/v1/jobs", json={**ECHO_JOB, "capability": "torch-filter"})
        assert elsewhere.status_code == 403
        assert elsewhere.json()["capability"] == "torch-filter"
        accepted = writer.post("/v1/jobs", json=ECHO_JOB)
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]
        assert job_id.startswith(f"{tenant}.")
        wait_for(
            lambda: writer.get(f"/v1/jobs/{job_id}").json()["state"] == "succeeded",
            "the tenant's job to succeed",
        )
        assert writer.get(f"/v1/jobs/{job_id}/output").json() == {"hi": 1}
        # Another tenant's key does not see it.
        assert stack.gateway.get(f"/v1/jobs/{job_id}").status_code == 404
        # The Livepeer route takes a tenant's key too, with its scopes.
    with as_key(stack, reader_secret) as reader:
        header = base64.b64encode(
            json.dumps(
                {"request": "{}", "parameters": "{}", "capability": "echo", "timeout_seconds": 30}
            ).encode()
        ).decode()
        refused = reader.post("/process/request/", headers={"Livepeer": header}, json={})
        assert refused.status_code == 403


def test_a_key_manager_stays_within_its_tenant_and_scopes(
    stack: StackClient, operator: httpx.Client, tenant: str
) -> None:
    manager_id, manager_secret = new_key(
        operator, tenant, scopes=["keys:write", "jobs:read"], name="manager"
    )
    with as_key(stack, manager_secret) as manager:
        escalate = manager.post("/v1/keys", json={"scopes": ["admin"]})
        assert escalate.status_code == 403 and escalate.json()["field"] == "scopes"
        assert manager.post("/v1/keys", json={"scopes": ["jobs:write"]}).status_code == 403
        made = manager.post("/v1/keys", json={"scopes": ["jobs:read"], "name": "ro"})
        assert made.status_code == 201 and made.json()["key"]["tenant"] == tenant
        listed = manager.get("/v1/keys").json()
        assert {k["tenant"] for k in listed} == {tenant}
        assert manager_id in {k["id"] for k in listed}
        assert all("secret" not in k for k in listed)
        assert manager.post("/v1/keys", json={"tenant": "default"}).status_code == 403
        default_keys = operator.get("/v1/keys", params={"tenant": "default"}).json()
        assert manager.get(f"/v1/keys/{default_keys[0]['id']}").status_code == 404
        seen = manager.get(f"/v1/keys/{manager_id}").json()
        assert seen["last_used_at"] is not None


def test_rotation_keeps_the_old_key_for_its_grace(
    stack: StackClient, operator: httpx.Client, tenant: str
) -> None:
    key_id, old = new_key(operator, tenant, scopes=["jobs:read"])
    rotated = operator.post(f"/v1/keys/{key_id}/rotate", json={"grace_seconds": 3600})
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()["secret"]
    assert rotated.json()["key"]["scopes"] == ["jobs:read"]
    for secret in (old, new):
        with as_key(stack, secret) as client:
            assert client.get(f"/v1/jobs/{tenant}.x").status_code == 404  # in, and not found
    again = operator.post(
        f"/v1/keys/{rotated.json()['key']['id']}/rotate", json={"grace_seconds": 0}
    )
    with as_key(stack, new) as client:
        gone = client.get(f"/v1/jobs/{tenant}.x")
        assert gone.status_code == 401 and "expired" in gone.json()["detail"]
    with as_key(stack, again.json()["secret"]) as client:
        assert client.get(f"/v1/jobs/{tenant}.x").status_code == 404


def test_a_revoked_key_is_refused_at_once_by_both_api_processes(
    stack: StackClient, operator: httpx.Client, tenant: str, tmp_path: Path
) -> None:
    directory = Path(stack.state.directory)
    port = free_port()
    second_url = f"http://127.0.0.1:{port}"
    pid = processes.spawn(
        [
            sys.executable,
            "-m",
            "tollway",
            "gateway",
            "api",
            "--config",
            str(directory / "gateway.json"),
        ],
        tmp_path / "gateway-api-2.log",
        env={"TOLLWAY_GATEWAY_PORT": str(port), "TOLLWAY_GATEWAY_API_INSTANCE": "api-2"},
    )
    try:
        processes.wait_until(lambda: processes.http_ok(f"{second_url}/healthz"), "second API", 60)
        key_id, secret = new_key(operator, tenant, scopes=["jobs:read"])
        urls = [stack.state.endpoints.gateway_api, second_url]
        clients = [as_key(stack, secret, url) for url in urls]
        for client in clients:
            assert client.get(f"/v1/jobs/{tenant}.x").status_code == 404
        revoked = httpx.delete(
            f"{second_url}/v1/keys/{key_id}",
            headers={"Authorization": f"Bearer {stack.state.admin_key}"},
        )
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        refused_at = time.monotonic()
        for client in clients:
            answer = client.get(f"/v1/jobs/{tenant}.x")
            assert answer.status_code == 401
            assert answer.json()["detail"] == f"API key {key_id} was revoked"
        assert time.monotonic() - refused_at < 1.0
        for client in clients:
            client.close()
    finally:
        processes.stop(pid)


def test_idempotency_key_replays_the_same_request_and_refuses_another(
    stack: StackClient,
) -> None:
    key = f"idem-{uuid.uuid4().hex}"
    first = stack.gateway.post("/v1/jobs", json=ECHO_JOB, headers={"Idempotency-Key": key})
    assert first.status_code == 202 and "Idempotent-Replayed" not in first.headers
    again = stack.gateway.post("/v1/jobs", json=ECHO_JOB, headers={"Idempotency-Key": key})
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["job_id"] == first.json()["job_id"] == f"default.{key}"
    other = stack.gateway.post(
        "/v1/jobs", json={**ECHO_JOB, "input": {"hi": 2}}, headers={"Idempotency-Key": key}
    )
    assert other.status_code == 422
    error = other.json()
    assert error["code"] == "IdempotencyKeyReused" and error["field"] == "idempotency_key"
    assert error["job_id"] == f"default.{key}"
    wait_for(
        lambda: stack.gateway.get(f"/v1/jobs/default.{key}").json()["state"] == "succeeded",
        "the idempotent job to succeed",
    )
    assert stack.gateway.get(f"/v1/jobs/default.{key}/output").json() == {"hi": 1}


def test_the_cli_manages_tenants_and_keys_on_the_database(stack: StackClient) -> None:
    config = str(Path(stack.state.directory) / "gateway.json")

    def tollway(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "tollway", *args, "--config", config],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    name = f"cli-{uuid.uuid4().hex[:6]}"
    tollway("tenants", "create", name)
    made = json.loads(tollway("keys", "create", "--tenant", name, "--scope", "jobs:read", "--json"))
    assert made["key"]["scopes"] == ["jobs:read"]
    with as_key(stack, made["secret"]) as client:
        assert client.get(f"/v1/jobs/{name}.x").status_code == 404
        listed = json.loads(tollway("keys", "list", "--tenant", name, "--json"))
        assert [k["id"] for k in listed] == [made["key"]["id"]]
        assert listed[0]["last_used_at"] is not None
        tollway("keys", "revoke", made["key"]["id"])
        assert client.get(f"/v1/jobs/{name}.x").status_code == 401
    assert name in tollway("tenants", "list")
