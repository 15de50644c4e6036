"""Triton replicas for real: TritonRuntime starts nvidia-pytriton's bundled Triton server around
the torch filter's model file, tollway calls it with tritonclient's wire format over httpx, and
a second runtime over the same records (a restarted GPU worker) finds and stops it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.byoc.torch_filter import FILTER_DIR, SAMPLE, expected, same_image
from tollway.byoc import triton_wire
from tollway.byoc.health import wait_healthy
from tollway.byoc.spec import REPLICA_LABEL, ContainerSpec, TritonModelSpec, triton_ready_path
from tollway.byoc.triton_runtime import TritonRuntime
from tollway.errors import ContainerSetupFailed


def spec(model_file: Path, replica: str, **env: str) -> ContainerSpec:
    return ContainerSpec(
        capability="torch-filter",
        triton=TritonModelSpec(model_file=str(model_file), max_batch_size=4),
        labels={REPLICA_LABEL: replica, "tollway.test": "triton"},
        env=env,
    )


def group_members(pgid: int) -> list[str]:
    """Live (not zombie) processes in process group `pgid`, as their command names."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, rest = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        state, _, group = rest.split()[:3]
        if int(group) == pgid and state != "Z":
            members.append(name.split("(", 1)[1])
    return members


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[TritonRuntime]:
    runtime = TritonRuntime(tmp_path / "triton")
    yield runtime
    for replica in runtime.list_containers():
        runtime.stop(replica.container_id)


async def test_torch_filter_served_by_triton(runtime: TritonRuntime, tmp_path: Path) -> None:
    began = time.monotonic()
    started = runtime.start(spec(FILTER_DIR / "triton_model.py", "r1", FILTER="edges"))
    await wait_healthy(started.url, triton_ready_path("torch-filter"), 90)
    print(f"\nTriton replica ready in {time.monotonic() - began:.1f} s")
    assert runtime.status(started.container_id) == "running"
    listed = runtime.list_containers({REPLICA_LABEL: "r1"})
    assert [(r.container_id, r.url) for r in listed] == [(started.container_id, started.url)]

    async with httpx.AsyncClient(trust_env=False) as http:
        answer = await triton_wire.infer(http, started.url, "torch-filter", SAMPLE, 30)
        assert answer.status_code == 200, answer.text
        assert answer.headers["Content-Type"] == "image/png"
        assert same_image(answer.content, expected("edges"))
        assert not same_image(answer.content, SAMPLE)

        bad = await triton_wire.infer(http, started.url, "torch-filter", b"not a png", 30)
        assert bad.status_code == 400
        assert bad.json()["error"]["type"] == "BadInput"
        assert "not an image" in bad.json()["error"]["message"]

        # Requests arriving together are batched by Triton; a bad one fails only itself.
        bodies = [SAMPLE if i % 4 else b"junk" for i in range(16)]
        answers = await asyncio.gather(
            *(triton_wire.infer(http, started.url, "torch-filter", b, 30) for b in bodies)
        )
        assert [a.status_code for a in answers] == [200 if i % 4 else 400 for i in range(16)]

        unknown = await triton_wire.infer(http, started.url, "no-such-model", SAMPLE, 30)
        assert unknown.status_code == 502
        assert "no-such-model" in unknown.json()["error"]["message"]

    # A restarted GPU worker: a new runtime over the same records finds the replica by label
    # (its process outlived the old runtime) and stops it with its whole process group.
    again = TritonRuntime(tmp_path / "triton")
    [found] = again.list_containers({REPLICA_LABEL: "r1"})
    assert (found.status, found.url) == ("running", started.url)
    pid = json.loads((tmp_path / "triton" / f"{found.container_id}.json").read_text())["pid"]
    again.stop(found.container_id)
    assert again.status(found.container_id) is None
    assert runtime.status(found.container_id) is None
    assert group_members(pid) == [], "part of the Triton replica outlived stop"
    with pytest.raises(httpx.TransportError):
        async with httpx.AsyncClient(trust_env=False) as http:
            await http.get(started.url + "/v2/health/live")


async def test_model_file_errors(runtime: TritonRuntime, tmp_path: Path) -> None:
    with pytest.raises(ContainerSetupFailed, match="not found on this GPU worker"):
        runtime.start(spec(tmp_path / "missing.py", "r2"))

    no_infer = tmp_path / "no_infer.py"
    no_infer.write_text("VALUE = 1\n")
    started = runtime.start(spec(no_infer, "r3"))
    deadline = time.monotonic() + 30
    while runtime.status(started.container_id) == "running":
        assert time.monotonic() < deadline, "a model file without infer kept running"
        await asyncio.sleep(0.1)
    assert runtime.status(started.container_id) == "exited"
    assert "defines no infer(body: bytes) -> bytes" in runtime.logs(started.container_id)
    runtime.stop(started.container_id)
    assert runtime.status(started.container_id) is None


async def test_environment_of_a_replica(
    runtime: TritonRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The declaration's env and only the placed GPUs reach the model; the worker's own
    settings (its orchestrator secret among them) do not."""
    monkeypatch.setenv("TOLLWAY_GPU_ORCHESTRATOR_SECRET", "not-for-models")
    model = tmp_path / "env_model.py"
    model.write_text(
        "import json, os\n"
        "CONTENT_TYPE = 'application/json'\n"
        "def infer(body: bytes) -> bytes:\n"
        "    return json.dumps(dict(os.environ)).encode()\n"
    )
    placed = spec(model, "r4", MODEL_SIZE="tiny").model_copy(update={"gpu_device_ids": ["1", "3"]})
    started = runtime.start(placed)
    await wait_healthy(started.url, triton_ready_path("torch-filter"), 90)
    async with httpx.AsyncClient(trust_env=False) as http:
        answer = await triton_wire.infer(http, started.url, "torch-filter", b"", 30)
    environment = answer.json()
    assert environment["MODEL_SIZE"] == "tiny"
    assert environment["CUDA_VISIBLE_DEVICES"] == "1,3"
    assert not [name for name in environment if name.startswith("TOLLWAY_")]
