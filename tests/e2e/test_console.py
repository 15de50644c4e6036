"""The operator consoles at `/console` show the live stack in headless Chromium, offline: the
gateway's lists a job just run and a stream just started, each linked to its workflow in the
Temporal UI, and the orchestrator it found in the market; the orchestrator's lists its
capabilities, replicas and the gateway's credit. A wrong key reads "key refused". No page
error, no console error, no request to another host. Screenshots go to
`$TOLLWAY_SCREENSHOT_DIR` when it is set."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, sync_playwright

from tests.e2e.conftest import STREAM_CAPABILITY
from tests.e2e.stack_client import ECHO_PRICE, StackClient
from tests.e2e.test_docs_page import CHROMIUM, CHROMIUM_ARGS, _offline

pytestmark = pytest.mark.e2e

SHOWN_MS = 30_000
"""The market refreshes every few seconds (conftest), the console every five."""


class Watched:
    """A page whose errors and requests to other hosts are recorded."""

    def __init__(self, browser: Browser) -> None:
        self.page: Page = browser.new_page(viewport={"width": 1440, "height": 900})
        self.errors: list[str] = []
        self.elsewhere: list[str] = []
        self.refusing = False
        self.refused = 0
        """401s answered while a wrong key was in use: Chromium logs each as a console error."""
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", self._console)
        self.page.on("response", self._response)
        _offline(self.page, self.elsewhere)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def _response(self, response: Response) -> None:
        if self.refusing and response.status == 401:
            self.refused += 1

    def use_key(self, key: str) -> None:
        self.page.fill("#key", key)
        self.page.click("#key-form button[type=submit]")

    def shows(self, selector: str) -> None:
        self.page.wait_for_selector(selector, timeout=SHOWN_MS)

    def done(self, name: str) -> None:
        directory = os.environ.get("TOLLWAY_SCREENSHOT_DIR")
        if directory:
            self.page.screenshot(path=str(Path(directory) / f"console-{name}.png"), full_page=True)
        assert not self.elsewhere, f"the {name} console asked other hosts for {self.elsewhere}"
        refusals = [e for e in self.errors if "status of 401" in e]
        assert len(refusals) <= self.refused, self.errors
        assert not [e for e in self.errors if e not in refusals], self.errors
        self.page.close()


def _workflow_url(stack: StackClient, namespace: str, workflow_id: str) -> str:
    return f"{stack.state.endpoints.temporal_ui}/namespaces/{namespace}/workflows/{workflow_id}"


def _gateway_console(browser: Browser, stack: StackClient, job_id: str, stream_id: str) -> None:
    watched = Watched(browser)
    page = watched.page
    page.goto(f"{stack.state.endpoints.gateway_api}/console")
    watched.refusing = True
    watched.use_key("tw_not-a-key")
    page.wait_for_function(
        "document.getElementById('status').textContent.includes('key refused')", timeout=SHOWN_MS
    )
    assert watched.refused > 0
    watched.refusing = False
    watched.use_key(stack.state.api_key)
    job_link = f'#jobs a[href="{_workflow_url(stack, "gateway", job_id)}"]'
    watched.shows(job_link)
    assert page.locator(job_link).inner_text() == job_id
    stream_link = f'#streams a[href="{_workflow_url(stack, "gateway", f"stream.{stream_id}")}"]'
    watched.shows(stream_link)
    orchestrator = stack.state.endpoints.orchestrator_api
    watched.shows(f'#marketplace td:has-text("{orchestrator}")')
    watched.shows('#usage td:has-text("echo")')
    # The link leads somewhere: the Temporal UI answers its own page for a workflow's path.
    assert httpx.get(page.locator(job_link).get_attribute("href") or "").status_code == 200
    watched.done("gateway")


def _orchestrator_console(browser: Browser, stack: StackClient) -> None:
    watched = Watched(browser)
    watched.page.goto(f"{stack.state.endpoints.orchestrator_api}/console")
    watched.use_key(stack.state.orchestrator_secret)
    watched.shows('#capabilities td:text-is("echo")')
    watched.shows('#replicas td:text-is("echo")')
    watched.shows(f'#credit td:has-text("{stack.gateway_address.lower()}")')
    watched.shows("#workers td:text-is('gpu-0')")
    watched.shows(f'#identity code:has-text("{stack.state.orchestrator_address}")')
    watched.done("orchestrator")


def test_the_consoles_show_the_stack(stack: StackClient, stream_worker: str) -> None:
    assert CHROMIUM.exists(), "Debian's chromium is missing: run `bash scripts/setup.sh`"
    done = stack.gateway.post(
        "/v1/jobs",
        json={"capability": "echo", "input": "console", "max_price_wei_per_second": ECHO_PRICE},
        headers={"Prefer": "wait=30"},
    )
    assert done.status_code == 200, done.text
    job_id = done.json()["job_id"]
    started = stack.gateway.post("/v1/streams", json={"capability": STREAM_CAPABILITY})
    assert started.status_code == 201, started.text
    stream_id = started.json()["stream_id"]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                _gateway_console(browser, stack, job_id, stream_id)
                _orchestrator_console(browser, stack)
            finally:
                browser.close()
    finally:
        stack.gateway.post(f"/v1/streams/{stream_id}/stop")
