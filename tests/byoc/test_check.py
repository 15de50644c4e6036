"""`tollway byoc check` against real images: the echo example conforms; an image that exits
instead of serving fails with the reason and its log."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.byoc.conftest import ECHO_TAG
from tollway.byoc.check import CheckOptions, CheckResult, run_checks
from tollway.byoc.docker_runtime import DockerRuntime
from tollway.byoc.spec import BuildImageInput
from tollway.cli import app

BROKEN_CONTEXT = Path(__file__).with_name("broken")
BROKEN_TAG = "tollway/broken:test"


@pytest.fixture(scope="module")
def broken_image(runtime: DockerRuntime) -> str:
    return runtime.build_image(BuildImageInput(context_dir=str(BROKEN_CONTEXT), tag=BROKEN_TAG))


async def checks(runtime: DockerRuntime, image: str, **options: float) -> list[CheckResult]:
    results: list[CheckResult] = []
    await run_checks(runtime, CheckOptions(image=image, **options), results.append)  # type: ignore[arg-type]
    return results


async def test_the_echo_example_conforms(runtime: DockerRuntime, echo_image: str) -> None:
    results = await checks(runtime, ECHO_TAG)
    assert [(r.name, r.passed) for r in results] == [
        ("starts hardened", True),
        ("answers its health route", True),
        ("serves a request", True),
        ("enforces WORKER_TOKEN", True),
    ]
    assert runtime.list_containers({"tollway.check": "1"}) == []  # and it cleaned up


async def test_an_image_that_exits_fails_with_its_reason(
    runtime: DockerRuntime, broken_image: str
) -> None:
    results = await checks(runtime, BROKEN_TAG, health_timeout_seconds=3)
    assert [(r.name, r.passed) for r in results] == [
        ("starts hardened", True),
        ("answers its health route", False),
    ]
    assert "the container exited" in results[-1].detail
    assert "broken on purpose: no server here" in results[-1].detail
    assert runtime.list_containers({"tollway.check": "1"}) == []


def test_the_cli_exit_code_follows_the_verdict(echo_image: str, broken_image: str) -> None:
    runner = CliRunner()
    good = runner.invoke(app, ["byoc", "check", ECHO_TAG])
    assert good.exit_code == 0, good.output
    assert "conforms" in good.output
    bad = runner.invoke(app, ["byoc", "check", BROKEN_TAG, "--health-timeout", "2"])
    assert bad.exit_code == 1
    assert "does not conform" in bad.output
    missing = runner.invoke(app, ["byoc", "check", "tollway/no-such-image:nope"])
    assert missing.exit_code == 1
    assert "no image tollway/no-such-image:nope" in missing.output
