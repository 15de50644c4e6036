"""`tollway byoc check IMAGE`: run an image the way an orchestrator would (hardened, non-root,
read-only, on 127.0.0.1) and hold it to the container contract (tollway/byoc/CONTRACT.md).

Each check is a line with what was expected and what happened; the first check that fails
ends the run, because later ones depend on it.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tollway.byoc.docker_runtime import DockerRuntime
from tollway.byoc.health import wait_healthy
from tollway.byoc.spec import ContainerSpec
from tollway.errors import TollwayError

__all__ = ["CHECK_LABEL", "CheckOptions", "CheckResult", "check_spec", "run_checks"]

CHECK_LABEL = "tollway.check"
PROBE = {"tollway": "conformance", "n": 1}


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class CheckOptions:
    image: str
    port: int = 5000
    health_path: str = "/health"
    path: str = "/"
    health_timeout_seconds: float = 30.0
    request_timeout_seconds: float = 30.0
    body: bytes | None = None
    """The job sent to `path`; None sends a small JSON probe."""
    content_type: str = "application/json"


def check_spec(options: CheckOptions, token: str, **more: Any) -> ContainerSpec:
    """The container a check runs: the image under test, with `token` as its WORKER_TOKEN
    (`more`: other ContainerSpec fields; labels are added to the check's own)."""
    labels = {CHECK_LABEL: "1", **more.pop("labels", {})}
    return ContainerSpec(
        capability="conformance-check",
        image=options.image,
        container_port=options.port,
        health_path=options.health_path,
        env={"WORKER_TOKEN": token},
        labels=labels,
        **more,
    )


async def run_checks(
    runtime: DockerRuntime, options: CheckOptions, report: Callable[[CheckResult], None]
) -> bool:
    """Run every check, reporting each as it ends; True when all passed."""
    token = secrets.token_urlsafe(16)
    spec = check_spec(options, token)

    def result(name: str, passed: bool, detail: str) -> bool:
        report(CheckResult(name, passed, detail))
        return passed

    started_at = time.monotonic()
    try:
        started = runtime.start(spec)
    except TollwayError as exc:
        return result("starts hardened", False, exc.message)
    try:
        if not result(
            "starts hardened",
            True,
            f"{started.name}: non-root, read-only root, no capabilities, port {options.port} "
            f"on {started.url}",
        ):
            return False
        try:
            await wait_healthy(started.url, options.health_path, options.health_timeout_seconds)
        except TollwayError as exc:
            state = runtime.status(started.container_id) or "gone"
            logs = runtime.logs(started.container_id, tail=20).strip()
            detail = exc.message if state == "running" else f"the container {state}: {exc.message}"
            if logs:
                detail += "\n    container log: " + logs.replace("\n", "\n    ")
            return result("answers its health route", False, detail)
        result(
            "answers its health route",
            True,
            f"GET {options.health_path} -> 200 in {time.monotonic() - started_at:.1f} s",
        )
        return await _request_checks(started.url, options, token, result)
    finally:
        runtime.stop(started.container_id)


async def _request_checks(
    url: str, options: CheckOptions, token: str, result: Callable[[str, bool, str], bool]
) -> bool:
    target = url.rstrip("/") + options.path
    body = json.dumps(PROBE).encode() if options.body is None else options.body
    headers = {"Content-Type": options.content_type}
    async with httpx.AsyncClient(trust_env=False, timeout=options.request_timeout_seconds) as http:
        try:
            answer = await http.post(
                target, content=body, headers={**headers, "Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            return result("serves a request", False, f"POST {options.path}: {exc!r}")
        if not answer.is_success:
            return result(
                "serves a request",
                False,
                f"POST {options.path} with the worker token -> {answer.status_code}: "
                f"{answer.text[:200]}",
            )
        result(
            "serves a request",
            True,
            f"POST {options.path} -> {answer.status_code} ({len(answer.content)} bytes, "
            f"{answer.headers.get('Content-Type', 'no content type')})",
        )
        try:
            anonymous = await http.post(target, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return result("enforces WORKER_TOKEN", False, f"POST without token: {exc!r}")
        if anonymous.status_code != 401:
            return result(
                "enforces WORKER_TOKEN",
                False,
                f"POST {options.path} without `Authorization: Bearer` -> "
                f"{anonymous.status_code}, expected 401",
            )
        return result("enforces WORKER_TOKEN", True, "no bearer token -> 401")
