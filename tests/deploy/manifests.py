"""Reading deploy/'s manifests for the tests: the TOLLWAY_* variables they set, checked against
the role settings' fields, and the role commands they run, checked against the CLI."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import typer.main
from pydantic import BaseModel

from tollway.cli import app
from tollway.config import GatewaySettings, GpuWorkerSettings, OrchestratorSettings, RoleSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PREFIXES: dict[str, type[RoleSettings]] = {
    "TOLLWAY_GATEWAY_": GatewaySettings,
    "TOLLWAY_ORCH_": OrchestratorSettings,
    "TOLLWAY_GPU_": GpuWorkerSettings,
}


def settings_class(variable: str) -> type[RoleSettings] | None:
    for prefix, cls in PREFIXES.items():
        if variable.startswith(prefix):
            return cls
    return None


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, also through `X | None`."""
    candidates = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def names_a_field(variable: str) -> bool:
    """`TOLLWAY_<ROLE>_<FIELD>[__<FIELD>...]` names a settings field (the `__` delimiter nests)."""
    cls = settings_class(variable)
    if cls is None:
        return False
    prefix = next(p for p in PREFIXES if variable.startswith(p))
    model: type[BaseModel] = cls
    parts = variable.removeprefix(prefix).lower().split("__")
    for depth, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        if depth < len(parts) - 1:
            nested = _nested_model(field.annotation)
            if nested is None:
                return False
            model = nested
    return True


def role_command_exists(args: Sequence[str]) -> bool:
    """`args` (before any option) name a command of `tollway`, not just a group of commands."""
    # Typer's own click (typer._click) builds the commands: a group is what has `commands`.
    command: Any = typer.main.get_command(app)
    for arg in args:
        if arg.startswith("-"):
            break
        found = getattr(command, "commands", {}).get(arg)
        if found is None:
            return False
        command = found
    return not hasattr(command, "commands")


def k8s_documents() -> Iterator[tuple[Path, Any]]:
    """Every YAML document under deploy/k8s, with its file."""
    import yaml

    for path in sorted((DEPLOY / "k8s").rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                yield path, document


def containers(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    if document.get("kind") not in ("Deployment", "StatefulSet"):
        return []
    return list(document["spec"]["template"]["spec"]["containers"])
