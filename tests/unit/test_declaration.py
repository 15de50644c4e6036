"""Capability declaration files: a good one loads; each mistake is named with its file and
field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tollway.byoc.declaration import DeclarationFile, load_declarations
from tollway.byoc.fleet import FleetInput, replica_inputs
from tollway.byoc.placement import Placement
from tollway.byoc.spec import TritonModelSpec
from tollway.cli import app
from tollway.errors import DeclarationError

REPO_ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, capabilities: list[dict[str, Any]]) -> Path:
    path = tmp_path / "capabilities.json"
    path.write_text(json.dumps({"capabilities": capabilities}))
    return path


def test_the_example_file_loads_with_paths_resolved() -> None:
    declared = load_declarations(REPO_ROOT / "examples" / "capabilities.json")
    echo, cold, torch_filter, triton, live = declared.capabilities
    assert echo.name == "echo"
    assert (cold.warm, cold.idle_timeout_seconds, cold.price.unit) == ("cold-swap", 60, "request")
    assert echo.build == str(REPO_ROOT / "examples" / "echo")
    assert (echo.price.amount, echo.price.unit, echo.network) == (10**13, "second", "none")
    assert torch_filter.build == str(REPO_ROOT / "examples" / "torch-filter")
    assert triton.triton is not None and triton.build is None and triton.image is None
    assert triton.triton.model == str(REPO_ROOT / "examples" / "torch-filter" / "triton_model.py")
    assert (live.build, live.streams) == (str(REPO_ROOT / "examples" / "live-effect"), True)
    assert not echo.streams


@pytest.mark.parametrize(
    ("capability", "field", "problem"),
    [
        ({"name": "x", "image": "i", "price": {"amount": 1, "unit": "hour"}},
         "capabilities[0].price.unit", "Input should be 'second', 'request' or 'frame'"),
        ({"name": "x", "image": "i", "colour": "blue"}, "capabilities[0].colour",
         "Extra inputs are not permitted"),
        ({"name": "x", "image": "i", "build": "b"}, "capabilities[0]",
         "give exactly one of image, build and triton"),
        ({"name": "x", "triton": {"model": "m.py"}, "streams": True}, "capabilities[0]",
         "streams do not apply to a Triton capability"),
        ({"name": "x", "build": "b", "triton": {"model": "m.py"}}, "capabilities[0]",
         "give exactly one of image, build and triton"),
        ({"name": "x", "triton": {"model": "m.py"}, "network": "egress"}, "capabilities[0]",
         "network do not apply to a Triton capability"),
        ({"name": "x", "triton": {"model": "m.py"}, "resources": {"memory_mb": 64}, "port": 80},
         "capabilities[0]", "port, resources do not apply to a Triton capability"),
        ({"name": "x", "triton": {"model": "m.py", "max_batch_size": 0}},
         "capabilities[0].triton.max_batch_size", "greater than or equal to 1"),
        ({"name": "x", "image": "i", "warm": "cold-swap"}, "capabilities[0]",
         "needs idle_timeout_seconds"),
        ({"name": "x", "image": "i", "warm": "dedicated"}, "capabilities[0]",
         "needs gpu.count of at least 1"),
        ({"name": "bad name!", "image": "i"}, "capabilities[0].name", "should match pattern"),
        ({"name": "x", "image": "i", "resources": {"memory_mb": 1}},
         "capabilities[0].resources.memory_mb", "greater than or equal to 6"),
    ],
)  # fmt: skip
def test_each_mistake_names_the_file_and_field(
    tmp_path: Path, capability: dict[str, Any], field: str, problem: str
) -> None:
    path = write(tmp_path, [capability])
    with pytest.raises(DeclarationError) as info:
        load_declarations(path)
    assert str(path) in info.value.message
    assert any(
        f["field"] == field and problem in f["problem"] for f in info.value.details["fields"]
    ), info.value.details["fields"]


def test_names_must_be_unique(tmp_path: Path) -> None:
    path = write(tmp_path, [{"name": "x", "image": "i"}, {"name": "x", "image": "j"}])
    with pytest.raises(DeclarationError, match="unique: x"):
        load_declarations(path)


def test_unreadable_and_non_json_files(tmp_path: Path) -> None:
    with pytest.raises(DeclarationError, match="cannot read"):
        load_declarations(tmp_path / "missing.json")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{capabilities: [")
    with pytest.raises(DeclarationError, match="not JSON"):
        load_declarations(garbage)


def test_validate_command(tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(app, ["byoc", "validate", str(REPO_ROOT / "examples/capabilities.json")])
    assert good.exit_code == 0, good.output
    assert "echo" in good.output
    bad = write(tmp_path, [{"name": "x"}])
    result = runner.invoke(app, ["byoc", "validate", str(bad)])
    assert result.exit_code == 1
    assert "capabilities[0]: Value error, give exactly one of image, build and triton" in " ".join(
        result.output.split()
    )


def test_a_triton_declaration_becomes_a_triton_replica(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [{"name": "tri", "triton": {"model": "models/m.py", "max_batch_size": 4}, "replicas": 2,
          "env": {"A": "1"}, "gpu": {"count": 1}}],
    )  # fmt: skip
    declared = load_declarations(path)
    # A round trip through JSON (Temporal history) keeps it valid: defaults are not "set".
    assert DeclarationFile.model_validate_json(declared.model_dump_json()) == declared
    fleet = FleetInput(fleet_id="f", capabilities=declared.capabilities)
    placements = [
        Placement(capability="tri", index=i, worker_id="w", task_queue="q", gpu_device_ids=[str(i)])
        for i in range(2)
    ]
    replicas = list(replica_inputs(fleet, placements).values())
    assert len(replicas) == 2
    for index, replica in enumerate(replicas):
        spec = replica.spec
        assert spec.image == "" and replica.build is None
        assert spec.triton == TritonModelSpec(
            model_file=str(tmp_path / "models/m.py"), max_batch_size=4
        )
        assert spec.health_path == "/v2/models/tri/ready"
        assert (spec.env, spec.gpu_device_ids) == ({"A": "1"}, [str(index)])
