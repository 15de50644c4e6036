"""The Temporal UI as the operators' view: every job workflow carries its tenant, capability,
state, orchestrator and cost as search attributes, so a visibility query (the UI's filter)
finds the jobs of a tenant, or the failed jobs of a capability."""

from __future__ import annotations

import asyncio
import json

import pytest
from temporalio.client import Client

from tests.e2e.stack_client import ECHO_PRICE, StackClient, wait_for
from tollway.temporal import CAPABILITY, COST_ETH, ORCHESTRATOR, STATE, TENANT, connect

pytestmark = pytest.mark.e2e


async def attributes_of(client: Client, query: str) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    async for execution in client.list_workflows(query):
        attributes = execution.typed_search_attributes
        found[execution.id] = {
            key.name: attributes.get(key)
            for key in (TENANT, CAPABILITY, STATE, ORCHESTRATOR, COST_ETH)
        }
    return found


def test_jobs_are_found_by_their_search_attributes(stack: StackClient) -> None:
    done = stack.gateway.post(
        "/v1/jobs",
        json={"capability": "echo", "input": "sa", "max_price_wei_per_second": ECHO_PRICE},
        headers={"Prefer": "wait=30"},
    )
    assert done.status_code == 200, done.text
    job = done.json()["job"]
    failed = stack.gateway.post(
        "/v1/jobs",
        json={"capability": "echo", "max_price_wei_per_second": 1},  # nobody serves it so cheap
        headers={"Prefer": "wait=30"},
    )
    failed_id = failed.json()["job_id"]
    assert failed.json()["job"]["state"] == "failed", failed.text

    async def query() -> dict[str, dict[str, dict[str, object]]]:
        client = await connect(stack.state.endpoints.temporal_address, "gateway")
        succeeded = await attributes_of(
            client,
            f"TollwayTenant = 'default' AND TollwayState = 'succeeded' "
            f"AND WorkflowId = '{job['job_id']}'",
        )
        failures = await attributes_of(
            client, "TollwayCapability = 'echo' AND TollwayState = 'failed'"
        )
        return {"succeeded": succeeded, "failed": failures}

    found: dict[str, dict[str, dict[str, object]]] = {}

    def indexed() -> bool:  # visibility lags the workflow a little
        found.update(asyncio.run(query()))
        return job["job_id"] in found["succeeded"] and failed_id in found["failed"]

    wait_for(indexed, "both jobs in the visibility index", 30)
    attributes = found["succeeded"][job["job_id"]]
    assert attributes["TollwayTenant"] == "default"
    assert attributes["TollwayCapability"] == "echo"
    assert attributes["TollwayOrchestrator"] == job["orchestrator"]
    cost = attributes["TollwayCostEth"]
    assert isinstance(cost, float) and cost == pytest.approx(int(job["cost_wei"]) / 10**18)
    assert found["failed"][failed_id]["TollwayState"] == "failed"

    async def summaries() -> list[str]:
        client = await connect(stack.state.endpoints.temporal_address, "gateway")
        history = await client.get_workflow_handle(job["job_id"]).fetch_history()
        return [
            json.loads(event.user_metadata.summary.data)
            for event in history.events
            if event.HasField("user_metadata") and event.user_metadata.HasField("summary")
        ]

    steps = asyncio.run(summaries())
    assert "discover echo" in steps and f"dispatch to {job['orchestrator']}" in steps
    assert any(s.startswith("settle ") for s in steps) and "record succeeded" in steps
