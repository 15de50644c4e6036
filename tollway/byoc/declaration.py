"""The capability declaration file: what an orchestrator operator serves, tollway's analogue of
go-livepeer's aiModels.json. JSON, one object with a `capabilities` list:

    {"capabilities": [{
        "name": "echo", "description": "stdlib echo",
        "build": "examples/echo",                  (or "image": "tollway/echo:latest", or
                                                    "triton": {"model": "filter/triton_model.py"})
        "port": 5000, "health_path": "/health",
        "capacity": 4, "replicas": 2,
        "price": {"amount": 10000000000000, "scaling": 1, "currency": "wei", "unit": "second"},
        "gpu": {"count": 0, "min_vram_mb": 0, "model": null},
        "warm": "warm",                            ("cold-swap" with idle_timeout_seconds, or
                                                    "dedicated": a GPU of its own)
        "env": {"MODEL": "tiny"},
        "resources": {"memory_mb": 512, "cpus": 1.0, "pids": 128},
        "network": "none"                          ("egress" lets it reach out)
    }]}

A file that does not parse or validate raises DeclarationError naming the file and each field
at fault (`capabilities[1].price.unit: ...`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tollway.byoc.spec import CAPABILITY_PATTERN
from tollway.errors import DeclarationError
from tollway.protocol.price import PriceUnit

__all__ = [
    "CapabilityDeclaration",
    "DeclarationFile",
    "GpuNeed",
    "PriceDeclaration",
    "Resources",
    "TritonDeclaration",
    "load_declarations",
]

MAX_DECLARATION_BYTES = 1024 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PriceDeclaration(_Strict):
    amount: int = Field(ge=0)
    scaling: int = Field(default=1, ge=1)
    currency: Literal["wei", "eth", "usd"] = "wei"
    unit: PriceUnit = "second"


class GpuNeed(_Strict):
    count: int = Field(default=0, ge=0, le=16)
    min_vram_mb: int = Field(default=0, ge=0)
    model: str | None = Field(default=None, max_length=128)
    """A substring of the GPU's NVML name, e.g. "L4" or "A100"."""


class Resources(_Strict):
    memory_mb: int = Field(default=512, ge=6)
    cpus: float = Field(default=1.0, gt=0, le=256)
    pids: int = Field(default=128, ge=1, le=65536)


class TritonDeclaration(_Strict):
    """Serve a model file through Triton on the GPU worker instead of a container."""

    model: str = Field(min_length=1)
    """A Python file defining `infer(body: bytes) -> bytes`, relative to the declaration file."""
    max_batch_size: int = Field(default=8, ge=1, le=1024)


TRITON_NOT_APPLICABLE = ("health_path", "network", "port", "resources", "streams")
"""A Triton replica is a process on the GPU worker, not a container: these are not enforced,
so a declaration may not set them (the defaults stand for "not applicable" there)."""


class CapabilityDeclaration(_Strict):
    name: str = Field(pattern=CAPABILITY_PATTERN)
    description: str = Field(default="", max_length=1024)
    image: str | None = Field(default=None, min_length=1)
    build: str | None = Field(default=None, min_length=1)
    """A directory with a Dockerfile, relative to the declaration file."""
    triton: TritonDeclaration | None = None
    port: int = Field(default=5000, ge=1, le=65535)
    health_path: str = Field(default="/health", pattern=r"^/")
    capacity: int = Field(default=1, ge=1, le=10_000)
    """Requests one replica serves at once."""
    replicas: int = Field(default=1, ge=0, le=64)
    price: PriceDeclaration = PriceDeclaration(amount=0)
    gpu: GpuNeed = GpuNeed()
    warm: Literal["warm", "cold-swap", "dedicated"] = "warm"
    idle_timeout_seconds: float | None = Field(default=None, gt=0)
    env: dict[str, str] = {}
    resources: Resources = Resources()
    network: Literal["none", "egress"] = "none"
    streams: bool = False
    """Serves live streams (`/stream/start` and the rest, CONTRACT.md "Live streams"): the
    GPU worker bridges the orchestrator's trickle server into the container."""

    @model_validator(mode="after")
    def _consistent(self) -> CapabilityDeclaration:
        if [self.image, self.build, self.triton].count(None) != 2:
            raise ValueError("give exactly one of image, build and triton")
        fields = type(self).model_fields
        given = [f for f in TRITON_NOT_APPLICABLE if getattr(self, f) != fields[f].default]
        if self.triton is not None and given:
            raise ValueError(
                f"{', '.join(given)} do not apply to a Triton capability: it runs as a process "
                "on the GPU worker, not in a container"
            )
        if self.warm == "cold-swap" and self.idle_timeout_seconds is None:
            raise ValueError("warm 'cold-swap' needs idle_timeout_seconds")
        if self.warm != "cold-swap" and self.idle_timeout_seconds is not None:
            raise ValueError("idle_timeout_seconds applies only to warm 'cold-swap'")
        if self.warm == "dedicated" and self.gpu.count == 0:
            raise ValueError("warm 'dedicated' needs gpu.count of at least 1")
        return self


class DeclarationFile(_Strict):
    capabilities: list[CapabilityDeclaration] = Field(max_length=256)

    @model_validator(mode="after")
    def _unique_names(self) -> DeclarationFile:
        names = [c.name for c in self.capabilities]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"capability names must be unique: {', '.join(repeated)}")
        return self


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def load_declarations(path: Path) -> DeclarationFile:
    """The declarations in `path`, with `build` directories resolved against its folder."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DeclarationError(f"{path}: cannot read: {exc.strerror}", file=str(path)) from exc
    if len(raw) > MAX_DECLARATION_BYTES:
        raise DeclarationError(f"{path}: larger than {MAX_DECLARATION_BYTES} bytes", file=str(path))
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise DeclarationError(f"{path}: not JSON: {exc}", file=str(path)) from exc
    try:
        declared = DeclarationFile.model_validate(data)
    except ValidationError as exc:
        problems = [
            {"field": _location(tuple(e["loc"])), "problem": e["msg"]} for e in exc.errors()
        ]
        listed = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        raise DeclarationError(f"{path}: {listed}", file=str(path), fields=problems) from exc
    base = path.resolve().parent
    return DeclarationFile(capabilities=[_resolved(c, base) for c in declared.capabilities])


def _resolved(capability: CapabilityDeclaration, base: Path) -> CapabilityDeclaration:
    """Paths in the declaration made absolute against the declaration file's folder."""
    if capability.build:
        return capability.model_copy(update={"build": str(base / capability.build)})
    if capability.triton:
        triton = capability.triton.model_copy(update={"model": str(base / capability.triton.model)})
        return capability.model_copy(update={"triton": triton})
    return capability
