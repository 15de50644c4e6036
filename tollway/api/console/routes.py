"""Serves the console: `/console` (the role's page), `/console/static/*` (its scripts and
styles, shipped in this package) and `/console/config.json` (where the Temporal UI is). None of
them is in the OpenAPI document: they are a page for people, not the API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

__all__ = ["STATIC", "ConsoleConfig", "install_console"]

STATIC = Path(__file__).with_name("static")
_NO_STORE = {"Cache-Control": "no-store"}
"""A page upgraded with the package is never served stale from a browser's cache."""


class ConsoleConfig(BaseModel):
    """What the page cannot learn from the API: where to link workflows to."""

    role: Literal["gateway", "orchestrator"]
    namespace: str
    temporal_ui_url: str | None = None
    """None: the page shows workflow ids without links."""
    workflows: dict[str, str] = {}
    """Workflow ids the page links by name (the orchestrator's `redemption`)."""


def install_console(
    app: FastAPI,
    role: Literal["gateway", "orchestrator"],
    config: Callable[[Request], ConsoleConfig],
) -> None:
    """Add the console of `role` to `app`; `config` answers `/console/config.json` (at request
    time: some of it, such as the orchestrator's address, is known only once the app runs)."""
    page = STATIC / f"{role}.html"

    @app.get("/console", include_in_schema=False)
    async def console() -> FileResponse:
        return FileResponse(page, headers=_NO_STORE)

    @app.get("/console/config.json", include_in_schema=False)
    async def console_config(request: Request) -> ConsoleConfig:
        return config(request)

    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
