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
