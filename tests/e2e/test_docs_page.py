"""Both APIs' `/docs` pages render every operation in headless Chromium with the internet out of
reach: Swagger UI's scripts and styles come from the app itself, and the browser asks no other
host for anything. Debian's chromium (scripts/setup.sh installs it) is driven by Playwright;
without it this test fails, it never skips."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from tests.e2e.stack_client import StackClient

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL = "127.0.0.1"
RENDER_MS = 30_000


def _operations(base: str) -> int:
    document = httpx.get(f"{base}/openapi.json", timeout=10).json()
    # Swagger UI renders the webhooks (what tollway sends) as operations too.
    routes = [*document["paths"].values(), *document.get("webhooks", {}).values()]
    return sum(len(methods) for methods in routes)


def _offline(page: Page, elsewhere: list[str]) -> None:
    """Every request to another host is recorded and refused, as it would be offline."""

    def guard(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == LOCAL:
            route.continue_()
        else:
            elsewhere.append(url)
            route.abort()

    page.route("**/*", guard)


def _renders_offline(browser: Browser, base: str) -> None:
    expected = _operations(base)
    page = browser.new_page()
    elsewhere: list[str] = []
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _offline(page, elsewhere)
    page.goto(f"{base}/docs")
    page.wait_for_function(
        f"document.querySelectorAll('.opblock').length >= {expected}", timeout=RENDER_MS
    )
    assert page.locator(".opblock").count() == expected, base
    assert page.locator(".information-container .title").first.is_visible(), base
    assert not elsewhere, f"{base}/docs asked other hosts for {elsewhere}"
    assert not errors, errors
    page.close()


def test_the_docs_pages_render_every_operation_offline(stack: StackClient) -> None:
    assert CHROMIUM.exists(), "Debian's chromium is missing: run `bash scripts/setup.sh`"
    endpoints = stack.state.endpoints
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for base in (endpoints.gateway_api, endpoints.orchestrator_api):
                _renders_offline(browser, base)
        finally:
            browser.close()
