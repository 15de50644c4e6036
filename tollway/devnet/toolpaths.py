"""Where the native tools installed by scripts/setup.sh live (overridable by environment)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

__all__ = ["REPO_ROOT", "anvil_binary", "solcjs_binary", "tools_dir", "venv_binary"]

REPO_ROOT = Path(__file__).resolve().parents[2]


def tools_dir() -> Path:
    return Path(os.environ.get("TOLLWAY_TOOLS_DIR", REPO_ROOT / "tools"))


def _require(path: Path, what: str) -> str:
    if not path.exists():
        raise FileNotFoundError(f"{what} not found at {path}: run `bash scripts/setup.sh` first")
    return str(path)


def anvil_binary() -> str:
    env = os.environ.get("TOLLWAY_ANVIL")
    path = (
        Path(env) if env else tools_dir() / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
    )
    return _require(path, "anvil")


def solcjs_binary() -> str:
    return _require(tools_dir() / "node_modules/.bin/solcjs", "solcjs")


def venv_binary(name: str) -> str:
    """A console script installed next to the running interpreter (temporal, uvicorn, ...)."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found next to {sys.executable} or on PATH")
    return found
