"""Every role process exports the Temporal SDK's own metrics on its Prometheus endpoint, beside
tollway's: after a job, the gateway's worker and API show workflow and activity series."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.stack_client import ECHO_PRICE, StackClient, wait_for

pytestmark = pytest.mark.e2e


def series(url: str) -> dict[str, float]:
    found = {}
    for line in httpx.get(url, timeout=10).text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


def test_the_sdk_metrics_are_exported(stack: StackClient) -> None:
    done = stack.gateway.post(
        "/v1/jobs",
        json={"capability": "echo", "input": "m", "max_price_wei_per_second": ECHO_PRICE},
        headers={"Prefer": "wait=30"},
    )
    assert done.status_code == 200, done.text
    endpoints = stack.state.endpoints
    api = f"{endpoints.gateway_api}/metrics"

    def completed() -> bool:
        return any(
            name.startswith("temporal_workflow_completed_total") and value > 0
            for name, value in series(api).items()
        )

    wait_for(completed, "the API's hosted worker to count a completed workflow", 15)
    api_series = series(api)
    assert any(n.startswith("tollway_") for n in api_series)  # tollway's own, beside them
    latency = [n for n in api_series if "activity_execution_latency_bucket" in n]
    assert any('activity_type="create_payment"' in n for n in latency), latency[:20]
    for name in ("gateway_worker_metrics", "orchestrator_worker_metrics", "gpu_worker_metrics"):
        url = getattr(endpoints, name)
        assert any(n.startswith("temporal_request_total") for n in series(url)), name
