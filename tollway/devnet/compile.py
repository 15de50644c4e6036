"""Compile the devnet contracts with solcjs and write (or `--check`) the committed artifacts.

python -m tollway.devnet.compile           # rewrite contracts/artifacts/*.json
python -m tollway.devnet.compile --check   # exit 1 if the committed artifacts are stale
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from typing import Any

from tollway.chain.artifacts import CONTRACT_NAMES, CONTRACTS_DIR, Artifact, artifact_path
from tollway.devnet.toolpaths import solcjs_binary

__all__ = [
    "CompileError",
    "compile_contracts",
    "compiler_version",
    "main",
    "stale_artifacts",
    "standard_json_input",
]

SOLC_VERSION = "0.8.37"
EVM_VERSION = "cancun"
OPTIMIZER_RUNS = 200


class CompileError(RuntimeError):
    pass


def _source_file(name: str) -> str:
    return f"{name}.sol"


def standard_json_input() -> dict[str, Any]:
    """Every `.sol` file in the contracts directory, including shared ones that only others import.

    Source unit names are bare file names, so the output does not depend on the checkout.
    """
    sources = {
        path.name: {"content": path.read_text()} for path in sorted(CONTRACTS_DIR.glob("*.sol"))
    }
    return {
        "language": "Solidity",
        "sources": sources,
        "settings": {
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "evmVersion": EVM_VERSION,
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }


def _solcjs(*args: str, stdin: str | None = None) -> str:
    # stdout goes to a file: solcjs exits without draining a pipe, cutting output at 64 KiB.
    with tempfile.TemporaryFile() as out:
        result = subprocess.run(
            [solcjs_binary(), *args],
            input=None if stdin is None else stdin.encode(),
            stdout=out,
            stderr=subprocess.PIPE,
            check=False,
            timeout=300,
        )
        out.seek(0)
        stdout = out.read().decode()
    if result.returncode != 0:
        raise CompileError(f"solcjs {' '.join(args)} failed: {result.stderr.decode() or stdout}")
    return stdout


def compiler_version() -> str:
    version = _solcjs("--version").strip().splitlines()[-1]
    if not version.startswith(SOLC_VERSION + "+"):
        raise CompileError(f"solcjs {SOLC_VERSION} required, found {version}")
    return f"solc-js {version}"


def _parse_output(stdout: str) -> dict[str, Any]:
    # solcjs may print notices (e.g. about SMT solvers) before the JSON document.
    start = stdout.find("{")
    if start < 0:
        raise CompileError(f"solcjs printed no JSON: {stdout[:500]}")
    output: dict[str, Any] = json.loads(stdout[start:])
    return output


def compile_contracts() -> dict[str, Artifact]:
    """Compile every contract; warnings fail the build as well as errors."""
    compiler = compiler_version()
    request = standard_json_input()
    output = _parse_output(_solcjs("--standard-json", stdin=json.dumps(request)))
    problems = [
        e.get("formattedMessage", e.get("message", ""))
        for e in output.get("errors", [])
        if e.get("severity") != "info"
    ]
    if problems:
        raise CompileError("solc reported:\n" + "\n".join(problems))

    artifacts = {}
    for name in CONTRACT_NAMES:
        source = _source_file(name)
        compiled = output["contracts"][source][name]
        artifacts[name] = Artifact(
            contract_name=name,
            abi=compiled["abi"],
            bytecode="0x" + compiled["evm"]["bytecode"]["object"],
            compiler=compiler,
            source_sha256=hashlib.sha256(
                request["sources"][source]["content"].encode()
            ).hexdigest(),
        )
    return artifacts


def stale_artifacts(artifacts: dict[str, Artifact]) -> list[str]:
    """Names whose committed artifact file is missing or differs from `artifacts`."""
    stale = []
    for name, artifact in artifacts.items():
        path = artifact_path(name)
        if not path.exists() or path.read_text() != artifact.to_json_text():
            stale.append(name)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tollway.devnet.compile", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)

    artifacts = compile_contracts()
    if args.check:
        stale = stale_artifacts(artifacts)
        if stale:
            print(
                f"contract artifacts out of date: {', '.join(stale)}; "
                "run `python -m tollway.devnet.compile` and commit the result",
                file=sys.stderr,
            )
            return 1
        print("contract artifacts are up to date")
        return 0

    for name, artifact in artifacts.items():
        artifact_path(name).parent.mkdir(parents=True, exist_ok=True)
        artifact_path(name).write_text(artifact.to_json_text())
        print(f"wrote {artifact_path(name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
