"""The gateway and orchestrator apps build, and their OpenAPI documents name every route with
the bodies, headers and errors it really has (tests/e2e/test_openapi_conformance.py fuzzes the
live APIs against them); their `/docs` pages load nothing from outside the process
(tests/e2e/test_docs_page.py renders them in Chromium)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tollway.api.gateway.app import create_app
from tollway.api.orchestrator.app import create_app as create_orchestrator_app
from tollway.config import GatewaySettings, KeySettings, OrchestratorSettings
from tollway.schemas.webhooks import EVENT_TYPES


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    tmp_path = tmp_path_factory.mktemp("gateway")
    return create_app(
        GatewaySettings(key=KeySettings(keystore=tmp_path / "k.json", password_file=tmp_path / "p"))
    )


@pytest.fixture(scope="module")
def orchestrator(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    tmp_path = tmp_path_factory.mktemp("orchestrator")
    return create_orchestrator_app(
        OrchestratorSettings(
            key=KeySettings(keystore=tmp_path / "k.json", password_file=tmp_path / "p"),
            secret="s" * 16,
        )
    )


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }


def test_the_gateway_app_documents_its_routes(gateway: FastAPI) -> None:
    paths = gateway.openapi()["paths"]
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


def test_the_gateway_documents_its_webhooks(gateway: FastAPI) -> None:
    document = gateway.openapi()
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
    assert set(hooks) == set(EVENT_TYPES)  # every event a webhook can hear, with its payload
    signed = hooks["job.succeeded"]["post"]
    assert {p["name"] for p in signed["parameters"]} == {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
    body = signed["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert "JobWebhookEvent" in body
    assert "BudgetAlert" in document["components"]["schemas"]


@pytest.mark.parametrize("app_name", ["gateway", "orchestrator"])
def test_errors_are_problem_details_and_validation_answers_400(
    app_name: str, request: pytest.FixtureRequest
) -> None:
    app: FastAPI = request.getfixturevalue(app_name)
    document = app.openapi()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert "ProblemDetails" in document["components"]["schemas"]
    for (method, path), operation in _operations(document).items():
        responses = operation["responses"]
        assert "422" not in responses or "IdempotencyKeyReused" in responses["422"]["description"]
        for status, response in responses.items():
            assert "X-Request-Id" in response["headers"], (method, path, status)
            if status[0] in "45" and status[1:] != "XX" and status != "470":
                assert list(response["content"]) == ["application/problem+json"], (path, status)


def test_hand_read_bodies_and_headers_are_declared(gateway: FastAPI, orchestrator: FastAPI) -> None:
    ops = _operations(gateway.openapi())
    submit = ops["POST", "/v1/jobs"]
    schema = submit["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/JobSubmission"}
    assert {"200", "202", "400", "401", "402", "403", "408", "413", "422", "429"} <= set(
        submit["responses"]
    )
    assert "Retry-After" in submit["responses"]["429"]["headers"]
    assert "RateLimit" in submit["responses"]["202"]["headers"]
    assert {p["name"] for p in submit["parameters"]} >= {"idempotency-key", "prefer"}
    process = ops["POST", "/process/request/{path}"]
    assert "Livepeer" in {p["name"] for p in process["parameters"] if p["required"]}
    assert process["security"] == [{"ApiKey": []}, {}]  # a key is optional there

    orchestrator_document = orchestrator.openapi()
    assert "OrchestratorSecret" in orchestrator_document["components"]["securitySchemes"]
    ops = _operations(orchestrator_document)
    for path in ("/capability/register", "/capability/load", "/capability/drain"):
        assert "application/json" in ops["POST", path]["requestBody"]["content"], path
        assert "401" in ops["POST", path]["responses"], path
    unregister = ops["POST", "/capability/unregister"]["requestBody"]["content"]
    assert set(unregister) == {"application/json", "text/plain"}
    assert "ExternalCapability" in orchestrator_document["components"]["schemas"]


@pytest.mark.parametrize("app_name", ["gateway", "orchestrator"])
async def test_the_docs_pages_load_their_assets_from_the_app(
    app_name: str, request: pytest.FixtureRequest
) -> None:
    app: FastAPI = request.getfixturevalue(app_name)
    transport = httpx.ASGITransport(app=app)  # no lifespan: the pages need none
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        html = (await client.get("/docs")).text
        assert "cdn" not in html.lower() and "https://" not in html
        assert (await client.get("/redoc")).status_code == 404  # ReDoc's page is not offline
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"):
            answer = await client.get(f"/static-offline-docs/{asset}")
            assert answer.status_code == 200 and len(answer.content) > 1000, asset
