"""`tollway tenants` and `tollway keys`: the gateway operator's tools, on the gateway's database
itself (the one its settings name), so they work before any key exists. Over HTTP the same is
`/v1/tenants` and `/v1/keys`."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from tollway.config import GatewaySettings, load_settings
from tollway.errors import TollwayError
from tollway.store.database import open_database, utc_now
from tollway.store.tenants import DEFAULT_SCOPES, SCOPES, ApiKey, NewKey, Scope, TenantStore

__all__ = ["keys_app", "parse_duration", "tenants_app"]

tenants_app = typer.Typer(help="The gateway's tenants (on its database).", no_args_is_help=True)
keys_app = typer.Typer(help="Tenants' API keys (on the gateway's database).", no_args_is_help=True)
console = Console()

T = TypeVar("T")

GatewayConfig = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="The gateway's JSON settings [default: the embedded stack's gateway.json].",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """`90s`, `15m`, `24h` or `30d`."""
    match = _DURATION.match(text.strip())
    if not match:
        raise typer.BadParameter(f"{text!r} is not a duration like 90s, 15m, 24h or 30d")
    return timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])


def _settings(config: Path | None) -> GatewaySettings:
    if config is None:
        config = Path(os.environ.get("TOLLWAY_HOME", ".tollway")) / "gateway.json"
        if not config.exists():
            raise typer.BadParameter(
                f"no {config}: give the gateway's settings with --config", param_hint="--config"
            )
    return load_settings(GatewaySettings, config)


def _run(config: Path | None, work: Callable[[TenantStore], Awaitable[T]]) -> T:
    async def run() -> T:
        database = open_database(_settings(config).database)
        try:
            return await work(TenantStore(database))
        finally:
            await database.close()

    try:
        return asyncio.run(run())
    except TollwayError as exc:
        console.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(1) from exc


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


@tenants_app.command("create")
def create_tenant(name: str, config: GatewayConfig = None) -> None:
    """Add a tenant; then give it a key with `tollway keys create --tenant NAME`."""
    tenant = _run(config, lambda store: store.create_tenant(name))
    console.print(f"tenant [bold]{tenant.name}[/] created")


@tenants_app.command("list")
def list_tenants(config: GatewayConfig = None, as_json: AsJson = False) -> None:
    found = _run(config, lambda store: store.list_tenants())
    if as_json:
        print(json.dumps([t.model_dump(mode="json") for t in found], indent=2))
        return
    table = Table("tenant", "created", "disabled")
    for tenant in found:
        table.add_row(tenant.name, _when(tenant.created_at), _when(tenant.disabled_at))
    console.print(table)


@tenants_app.command("disable")
def disable_tenant(
    name: str,
    config: GatewayConfig = None,
    enable: Annotated[bool, typer.Option("--enable", help="Enable it again.")] = False,
) -> None:
    """Refuse every key of the tenant (401) until it is enabled again."""
    _run(config, lambda store: store.disable_tenant(name, disabled=not enable))
    console.print(f"tenant [bold]{name}[/] {'enabled' if enable else 'disabled'}")


def _print_new(made: NewKey, as_json: bool) -> None:
    if as_json:
        print(made.model_dump_json(indent=2))
        return
    console.print(f"key [bold]{made.key.id}[/] for tenant {made.key.tenant}: {made.key.scopes}")
    console.print("the secret, shown this once (only its hash is kept):")
    print(made.secret)


@keys_app.command("create")
def create_key(
    tenant: Annotated[str, typer.Option(help="The tenant the key speaks for.")],
    config: GatewayConfig = None,
    name: Annotated[str, typer.Option(help="What the key is for.")] = "",
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help=f"Repeat for each scope: {', '.join(SCOPES)} [default: jobs and streams]"
        ),
    ] = None,
    capability: Annotated[
        list[str] | None, typer.Option(help="Repeat: the only capabilities it may use.")
    ] = None,
    expires_in: Annotated[
        str | None, typer.Option(help="It stops working after this long: 90s, 15m, 24h, 30d.")
    ] = None,
    create_tenant: Annotated[
        bool, typer.Option("--create-tenant", help="Add the tenant first if it is missing.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Make a key; its secret is printed this once."""
    scopes: list[Scope] = [s for s in SCOPES if s in (scope or DEFAULT_SCOPES)]
    unknown = sorted(set(scope or []) - set(SCOPES))
    if unknown:
        raise typer.BadParameter(f"unknown scopes {unknown}; known: {list(SCOPES)}")
    expires_at = utc_now() + parse_duration(expires_in) if expires_in else None

    async def work(store: TenantStore) -> NewKey:
        if create_tenant:
            await store.ensure_tenant(tenant)
        return await store.create_key(tenant, name, scopes, capability, expires_at)

    _print_new(_run(config, work), as_json)


@keys_app.command("list")
def list_keys(
    config: GatewayConfig = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    as_json: AsJson = False,
) -> None:
    found: list[ApiKey] = _run(config, lambda store: store.list_keys(tenant))
    if as_json:
        print(json.dumps([k.model_dump(mode="json") for k in found], indent=2))
        return
    table = Table("id", "tenant", "name", "prefix", "scopes", "expires", "revoked", "last used")
    for key in found:
        table.add_row(
            key.id, key.tenant, key.name, key.prefix, " ".join(key.scopes),
            _when(key.expires_at), _when(key.revoked_at), _when(key.last_used_at),
        )  # fmt: skip
    console.print(table)


@keys_app.command("rotate")
def rotate_key(
    key_id: str,
    config: GatewayConfig = None,
    grace: Annotated[
        str, typer.Option(help="How long the old key keeps working: 0s, 15m, 24h.")
    ] = "24h",
    as_json: AsJson = False,
) -> None:
    """A new secret with the key's powers; the old one works for the grace period."""
    made = _run(config, lambda store: store.rotate_key(key_id, parse_duration(grace)))
    _print_new(made, as_json)


@keys_app.command("revoke")
def revoke_key(key_id: str, config: GatewayConfig = None) -> None:
    """Refuse the key from now on (401), on every gateway API process."""
    key = _run(config, lambda store: store.revoke_key(key_id))
    console.print(f"key [bold]{key.id}[/] of {key.tenant} revoked at {_when(key.revoked_at)}")
