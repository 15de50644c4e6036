"""The torch filter example as a container (examples/torch-filter): it conforms to the contract
and answers the filter's own result, pixel for pixel."""

from __future__ import annotations

import httpx
import pytest
from typer.testing import CliRunner

from tests.byoc.torch_filter import FILTER_DIR, SAMPLE, expected, same_image
from tollway.byoc.docker_runtime import DockerRuntime
from tollway.byoc.health import wait_healthy
from tollway.byoc.spec import BuildImageInput, ContainerSpec
from tollway.cli import app

pytestmark = pytest.mark.docker
TAG = "tollway/torch-filter:test"


@pytest.fixture(scope="module")
def filter_image(runtime: DockerRuntime) -> str:
    return runtime.build_image(BuildImageInput(context_dir=str(FILTER_DIR), tag=TAG))


def test_byoc_check_passes_with_an_image_body(filter_image: str) -> None:
    result = CliRunner().invoke(
        app, ["byoc", "check", TAG, "--body", str(FILTER_DIR / "sample.png")]
    )
    assert result.exit_code == 0, result.output
    assert "POST / -> 200" in result.output and "image/png" in result.output
    assert "conforms" in result.output


async def test_image_in_filtered_image_out(
    filter_image: str,
    runtime: DockerRuntime,
    session_labels: dict[str, str],
) -> None:
    started = runtime.start(
        ContainerSpec(capability="torch-filter", image=TAG, labels=session_labels, memory_mb=1024)
    )
    try:
        await wait_healthy(started.url, "/health", 60)
        async with httpx.AsyncClient(trust_env=False, timeout=60) as http:
            edges = await http.post(f"{started.url}/", content=SAMPLE)
            assert edges.status_code == 200, edges.text
            assert edges.headers["Content-Type"] == "image/png"
            assert same_image(edges.content, expected("edges"))

            blur = await http.post(f"{started.url}/?filter=blur", content=SAMPLE)
            assert same_image(blur.content, expected("blur"))
            assert not same_image(blur.content, edges.content)

            junk = await http.post(f"{started.url}/", content=b"\x89PNG but not really")
            assert junk.status_code == 400
            assert junk.json()["error"]["type"] == "BadImage"

            unknown = await http.post(f"{started.url}/?filter=sepia", content=SAMPLE)
            assert unknown.status_code == 400
            assert "unknown filter 'sepia'" in unknown.json()["error"]["message"]
    finally:
        runtime.stop(started.container_id)
