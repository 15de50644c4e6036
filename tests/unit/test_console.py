"""The operator console's pages are served by the apps themselves: every script and style they
name comes from `/console/static/`, nothing names another host or writes HTML from data, and
no console route is in the OpenAPI documents (the schemathesis run fuzzes what is)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tollway.api.console.routes import STATIC
from tollway.api.gateway.app import create_app
from tollway.api.orchestrator.app import create_app as create_orchestrator_app
from tollway.config import GatewaySettings, KeySettings, OrchestratorSettings

UI = "http://127.0.0.1:8233"


def _key(tmp_path: Path) -> KeySettings:
    return KeySettings(keystore=tmp_path / "k.json", password_file=tmp_path / "p")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    tmp_path = tmp_path_factory.mktemp("gateway")
    return create_app(GatewaySettings(key=_key(tmp_path), temporal_ui_url=UI))


@pytest.fixture(scope="module")
def orchestrator(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    tmp_path = tmp_path_factory.mktemp("orchestrator")
    return create_orchestrator_app(OrchestratorSettings(key=_key(tmp_path), secret="s" * 16))


@pytest.mark.parametrize("app_name", ["gateway", "orchestrator"])
async def test_the_console_page_and_its_assets_come_from_the_app(
    app_name: str, request: pytest.FixtureRequest
) -> None:
    app: FastAPI = request.getfixturevalue(app_name)
    transport = httpx.ASGITransport(app=app)  # no lifespan: the page and its assets need none
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        page = await client.get("/console")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert {f"/console/static/{app_name}.js", "/console/static/console.js"} <= set(assets)
        for asset in assets:
            if asset.startswith("data:"):
                continue
            assert asset.startswith("/console/static/"), asset
            assert (await client.get(asset)).status_code == 200, asset
        paths = app.openapi()["paths"]
        assert not [path for path in paths if path.startswith("/console")]


async def test_the_gateway_console_knows_the_temporal_ui(gateway: FastAPI) -> None:
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        config = (await client.get("/console/config.json")).json()
    assert config == {
        "role": "gateway",
        "namespace": "gateway",
        "temporal_ui_url": UI,
        "workflows": {},
    }


def test_the_console_names_no_other_host_and_writes_no_html_from_data() -> None:
    for path in STATIC.iterdir():
        source = path.read_text()
        assert not re.search(r"\.(inner|outer)HTML|insertAdjacentHTML|document\.write", source)
        assert "http://" not in source and "https://" not in source, path.name
