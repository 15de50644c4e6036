"""The layering contracts in pyproject.toml hold, and they do catch an import that runs back up.

import-linter reads imports statically, so the upward import is planted in a copy of the package
and nothing of it is run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tree_keeps_its_layers() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_import_back_up_a_layer_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copytree(
        REPO / "tollway", tmp_path / "tollway", ignore=shutil.ignore_patterns("__pycache__")
    )
    planted = tmp_path / "tollway" / "protocol" / "price.py"
    planted.write_text(planted.read_text() + "\nimport tollway.market.store  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert "tollway.protocol.price -> tollway.market.store" in result.stdout
