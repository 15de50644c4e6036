"""The gateway and orchestrator apps build, and their OpenAPI documents name every route."""

from __future__ import annotations

from pathlib import Path

from tollway.api.gateway.app import create_app
from tollway.config import GatewaySettings, KeySettings


def test_the_gateway_app_documents_its_routes(tmp_path: Path) -> None:
    settings = GatewaySettings(
        key=KeySettings(keystore=tmp_path / "k.json", password_file=tmp_path / "p")
    )
    paths = create_app(settings).openapi()["paths"]
    for route in (
        "/v1/jobs",
        "/v1/jobs/{job_id}",
        "/v1/jobs/{job_id}/output",
        "/v1/keys",
        "/v1/keys/{key_id}/rotate",
        "/v1/tenants",
        "/v1/budgets",
        "/v1/usage",
    ):
        assert route in paths, route
    assert set(paths["/v1/jobs"]) == {"get", "post"}
    assert "delete" in paths["/v1/jobs/{job_id}"]


def test_the_gateway_documents_its_webhooks(tmp_path: Path) -> None:
    settings = GatewaySettings(
        key=KeySettings(keystore=tmp_path / "k.json", password_file=tmp_path / "p")
    )
    document = create_app(settings).openapi()
    for route in (
        "/v1/webhooks",
        "/v1/webhooks/default/secret",
        "/v1/webhooks/{webhook_id}",
        "/v1/webhook-deliveries",
        "/v1/webhook-deliveries/{delivery_id}",
        "/v1/webhook-deliveries/{delivery_id}/replay",
    ):
        assert route in document["paths"], route
    hooks = document["webhooks"]
    assert set(hooks) == {
        "job.queued",
        "job.started",
        "job.succeeded",
        "job.rejected",
        "job.failed",
        "job.canceled",
        "budget.threshold",
    }
    signed = hooks["job.succeeded"]["post"]
    assert {p["name"] for p in signed["parameters"]} == {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
    body = signed["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert "JobWebhookEvent" in body
    assert "BudgetAlert" in document["components"]["schemas"]
