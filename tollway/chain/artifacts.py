"""Compiled contract artifacts committed under `tollway/chain/contracts/artifacts/`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CONTRACTS_DIR", "CONTRACT_NAMES", "Artifact", "artifact_path", "load_artifact"]

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
ARTIFACTS_DIR = CONTRACTS_DIR / "artifacts"
CONTRACT_NAMES = (
    "Controller",
    "LivepeerToken",
    "Minter",
    "RoundsManager",
    "BondingManager",
    "TicketBroker",
    "ServiceRegistry",
)
"""The deployable contracts; each lives in `<name>.sol`, beside shared sources it imports."""


class Artifact(BaseModel):
    """One contract's ABI and creation bytecode, plus what it was built from."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    contract_name: str = Field(alias="contractName")
    abi: list[dict[str, Any]]
    bytecode: str
    compiler: str
    source_sha256: str = Field(alias="sourceSha256")

    def to_json_text(self) -> str:
        return json.dumps(self.model_dump(by_alias=True), indent=2) + "\n"


def artifact_path(name: str) -> Path:
    return ARTIFACTS_DIR / f"{name}.json"


def load_artifact(name: str) -> Artifact:
    """The committed artifact of contract `name` (one of CONTRACT_NAMES)."""
    if name not in CONTRACT_NAMES:
        raise ValueError(f"unknown contract {name!r}; expected one of {CONTRACT_NAMES}")
    return Artifact.model_validate_json(artifact_path(name).read_text())
