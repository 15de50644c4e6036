"""The job index on the embedded stack: a tenant lists its jobs newest first by cursor and
filter, reads its usage as JSON and CSV, and an output past its retention (or deleted) answers
410 while the job's record stays."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack_client import StackClient, wait_for

pytestmark = pytest.mark.e2e

JOB = {"capability": "echo", "input": {"n": 0}, "max_price_wei_per_second": 10**14}


@pytest.fixture(scope="module")
def tenant_client(stack: StackClient) -> httpx.Client:
    admin = {"Authorization": f"Bearer {stack.state.admin_key}"}
    base = stack.state.endpoints.gateway_api
    name = f"rec-{uuid.uuid4().hex[:6]}"
    assert httpx.post(f"{base}/v1/tenants", json={"name": name}, headers=admin).status_code == 201
    secret = httpx.post(f"{base}/v1/keys", json={"tenant": name}, headers=admin).json()["secret"]
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=60)


def finished(client: httpx.Client, job_id: str) -> dict[str, object]:
    wait_for(
        lambda: client.get(f"/v1/jobs/{job_id}").json()["state"] in ("succeeded", "failed"),
        f"job {job_id} to finish",
    )
    job: dict[str, object] = client.get(f"/v1/jobs/{job_id}").json()
    return job


def test_list_usage_retention_and_delete(stack: StackClient, tenant_client: httpx.Client) -> None:
    client = tenant_client
    ids = []
    for n in range(3):
        answer = client.post("/v1/jobs", json={**JOB, "input": {"n": n}})
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["job_id"])
    short = client.post("/v1/jobs", json={**JOB, "retention_seconds": 1}).json()["job_id"]
    jobs = [finished(client, job_id) for job_id in [*ids, short]]
    assert all(job["state"] == "succeeded" for job in jobs)
    assert jobs[0]["created_at"] and jobs[0]["expires_at"] and jobs[0]["data_removed"] is False

    first = client.get("/v1/jobs", params={"limit": 2}).json()
    assert [j["id"] for j in first["data"]] == [short, ids[2]] and first["has_more"]
    rest = client.get("/v1/jobs", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [j["id"] for j in rest["data"]] == [ids[1], ids[0]] and not rest["has_more"]
    assert all(j["state"] == "succeeded" and j["cost_wei"] > 0 for j in rest["data"])
    assert client.get("/v1/jobs", params={"status": "failed"}).json()["data"] == []
    assert client.get("/v1/jobs", params={"capability": "torch"}).json()["data"] == []
    bad = client.get("/v1/jobs", params={"status": "exploded"})
    assert bad.status_code == 400 and bad.json()["field"] == "status"
    assert client.get("/v1/jobs", params={"cursor": "nope"}).status_code == 400

    [usage] = client.get("/v1/usage", params={"group_by": "capability"}).json()
    assert usage["capability"] == "echo" and usage["jobs"] == 4
    assert usage["cost_wei"] == sum(int(str(job["cost_wei"])) for job in jobs)
    assert usage["units"]["second"] >= 4
    csv = client.get("/v1/usage", headers={"Accept": "text/csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "day,key_id,capability,jobs,units,cost_wei,cost_usd"

    # Past its retention: 410 and its record kept; the worker removes its files.
    expired = client.get(f"/v1/jobs/{short}/output")
    wait_for(lambda: client.get(f"/v1/jobs/{short}/output").status_code == 410, "expiry", 10)
    expired = client.get(f"/v1/jobs/{short}/output")
    assert expired.json()["code"] == "OutputExpired"
    wait_for(lambda: client.get(f"/v1/jobs/{short}").json()["data_removed"], "removal", 15)
    artifacts = Path(stack.state.directory) / "gateway" / "artifacts"
    output = client.get(f"/v1/jobs/{short}").json()["outcome"]["output_artifact"]
    assert not (artifacts / output).exists()

    # Deleted by its tenant: the same.
    assert client.get(f"/v1/jobs/{ids[0]}/output").json() == {"n": 0}
    assert client.delete(f"/v1/jobs/{ids[0]}").status_code == 204
    assert client.get(f"/v1/jobs/{ids[0]}/output").status_code == 410
    assert client.get(f"/v1/jobs/{ids[0]}").json()["data_removed"] is True
    running = client.post(
        "/v1/jobs", json={**JOB, "path": "/sleep", "input": {"seconds": 2}}
    ).json()["job_id"]
    refused = client.delete(f"/v1/jobs/{running}")
    assert refused.status_code == 409 and refused.json()["code"] == "Conflict"
    finished(client, running)
