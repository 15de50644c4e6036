"""Which tenant a configured key belongs to (on a real SQLite database), and a job's price cap
and selection policy from the job, its tenant, its capability and the gateway."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, cast

import pytest
from starlette.requests import Request

from tollway.api.gateway.app import seed_configured_keys
from tollway.api.gateway.deps import current_principal
from tollway.api.gateway.ratelimit import RateLimits
from tollway.api.gateway.services import GatewayServices
from tollway.config import GatewaySettings, KeySettings, TenantSettings
from tollway.errors import RateLimited, Unauthorized
from tollway.store.database import open_database
from tollway.store.tenants import CONFIGURED_SCOPES, TenantStore


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def services(tmp_path: Path, **fields: Any) -> GatewayServices:
    settings = GatewaySettings(
        key=KeySettings(keystore=tmp_path / "k.json", password_file=tmp_path / "p"),
        max_price_wei_per_second=1_000,
        **fields,
    )
    # Only settings are read by these methods; Temporal, artifacts and market are not touched.
    unused = cast(Any, None)
    return GatewayServices(settings, *[unused] * 12)


async def test_configured_keys_map_to_their_tenant(tmp_path: Path) -> None:
    gateway = services(
        tmp_path,
        api_key_sha256=[sha("k-default")],
        tenants={"acme": TenantSettings(api_key_sha256=[sha("k-acme")])},
    )
    database = open_database(f"sqlite:///{tmp_path / 'gateway.db'}")
    try:
        gateway.tenants = TenantStore(database)
        gateway.rate_limits = RateLimits("memory://", create_per_minute=5, read_per_minute=3)
        await seed_configured_keys(gateway.tenants, gateway.settings)

        def request() -> Request:
            return Request({"type": "http", "method": "GET", "path": "/v1/jobs", "headers": []})

        default = await current_principal(request(), gateway, "Bearer k-default")
        assert default.tenant == "default"
        read = request()
        acme = await current_principal(read, gateway, "Bearer k-acme")
        assert acme.tenant == "acme"
        assert set(acme.scopes) == set(CONFIGURED_SCOPES)
        assert read.state.headers == {
            "RateLimit-Policy": '"read";q=3;w=60',
            "RateLimit": f'"read";r=2;t={read.state.headers["RateLimit"].rsplit("=", 1)[1]}',
        }
        for bad in ("Bearer nope", "k-acme", None, "Basic k-acme", "Bearer  "):
            with pytest.raises(Unauthorized):
                await current_principal(request(), gateway, bad)
        for _ in range(2):  # the quota of 3 used up
            await current_principal(request(), gateway, "Bearer k-acme")
        with pytest.raises(RateLimited) as limited:
            await current_principal(request(), gateway, "Bearer k-acme")
        assert limited.value.status_code == 429
        assert 1 <= int(limited.value.headers["Retry-After"]) <= 60
        # Another key has its own quota.
        await current_principal(request(), gateway, "Bearer k-default")
    finally:
        await database.close()


def test_price_cap_is_the_lowest_that_applies(tmp_path: Path) -> None:
    gateway = services(
        tmp_path,
        capability_max_price_wei_per_second={"llm": 500},
        tenants={
            "acme": TenantSettings(max_price_wei_per_second={"*": 800, "echo": 300}),
            "big": TenantSettings(max_price_wei_per_second={"*": 5_000}),
        },
    )
    assert gateway.price_cap("echo", "default") == 1_000
    assert gateway.price_cap("llm", "default") == 500
    assert gateway.price_cap("echo", "acme") == 300
    assert gateway.price_cap("other", "acme") == 800
    assert gateway.price_cap("other", "big") == 1_000  # never above the gateway's own
    assert gateway.price_cap("echo", "acme", requested=100) == 100
    assert gateway.price_cap("echo", "acme", requested=10**9) == 300


def test_policy_from_job_then_tenant_then_gateway(tmp_path: Path) -> None:
    gateway = services(
        tmp_path,
        selection_policy="cheapest",
        tenants={"acme": TenantSettings(policy="fastest")},
    )
    assert gateway.policy("default") == "cheapest"
    assert gateway.policy("acme") == "fastest"
    assert gateway.policy("acme", "balanced") == "balanced"
