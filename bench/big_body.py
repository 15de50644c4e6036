"""Memory and speed of large bodies on the job path: echo jobs of growing size through the
gateway's `/process/request` (gateway, orchestrator, container and back), each timed, with the
peak resident memory each process of the stack gained while serving it (VmHWM after, less VmRSS
before; the peak is reset through /proc/PID/clear_refs), beside the same body sent straight to
the container. Brings up a stack of its own unless `--dir` names a running one (`tollway up`).

    .venv/bin/python bench/big_body.py [--mib 1 16 48] [--dir .tollway]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from tollway.devnet.down import bring_down
from tollway.devnet.state import StackState
from tollway.devnet.up import Ports, bring_up

MEASURED = ("gateway-api", "gateway-worker", "orchestrator-api")


def memory(state: StackState, field: str) -> dict[str, int]:
    found = {}
    for name in MEASURED:
        status = Path(f"/proc/{state.processes[name].pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        found[name] = int(fields[field].split()[0]) * 1024
    return found


def run(state: StackState, sizes: list[int], console: Console) -> None:
    header = base64.b64encode(b'{"capability": "echo", "timeout_seconds": 120}').decode()
    table = Table("MiB", "direct s", "gateway s", "MiB/s", *(f"{n} +MiB" for n in MEASURED))
    with httpx.Client(base_url=state.endpoints.gateway_api, timeout=180) as http:
        http.post("/process/request/warm", headers={"Livepeer": header}, content=b"warm-up")
        for mib in sizes:
            body = os.urandom(mib * 1024 * 1024)
            started = time.perf_counter()
            direct = httpx.post(f"{state.replica_url()}/bench", content=body, timeout=180)
            direct_seconds = time.perf_counter() - started
            assert direct.content == body
            before = memory(state, "VmRSS")
            for name in MEASURED:
                Path(f"/proc/{state.processes[name].pid}/clear_refs").write_text("5")
            started = time.perf_counter()
            answer = http.post("/process/request/bench", headers={"Livepeer": header}, content=body)
            seconds = time.perf_counter() - started
            peaks = memory(state, "VmHWM")
            assert answer.status_code == 200, answer.text[:300]
            assert hashlib.sha256(answer.content).digest() == hashlib.sha256(body).digest()
            table.add_row(
                str(mib),
                f"{direct_seconds:.3f}",
                f"{seconds:.3f}",
                f"{mib / seconds:.0f}",
                *(f"{(peaks[n] - before[n]) / 2**20:.1f}" for n in MEASURED),
            )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, nargs="+", default=[1, 16, 48])
    parser.add_argument("--dir", type=Path, help="a running stack's folder (default: start one)")
    args = parser.parse_args()
    console = Console()
    if args.dir is not None:
        state = StackState.load(args.dir.resolve())
        if state is None:
            raise SystemExit(f"no stack in {args.dir}: run `tollway up` first")
        run(state, args.mib, console)
        return
    with tempfile.TemporaryDirectory(prefix="tollway-big-body-") as folder:
        directory = Path(folder) / "stack"
        try:
            run(bring_up(directory, Ports.free(), Console(stderr=True)), args.mib, console)
        finally:
            bring_down(directory, Console(stderr=True))


if __name__ == "__main__":
    main()
