"""`tollway status`: the recorded stack and whether each part answers."""

from __future__ import annotations

from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from tollway.devnet import processes
from tollway.devnet.state import StackState

__all__ = ["check", "show"]


def _rpc_ok(url: str) -> bool:
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
    try:
        return "result" in httpx.post(url, json=body, timeout=1.0).json()
    except (httpx.HTTPError, ValueError):
        return False


def check(state: StackState) -> dict[str, bool]:
    """name -> alive, for every process (and its health URL when it has one)."""
    results = {}
    for name, record in state.processes.items():
        ok = record.alive()
        if ok and record.health:
            ok = processes.http_ok(record.health)
        results[name] = ok
    results["chain rpc"] = _rpc_ok(state.endpoints.chain_rpc)
    host, _, port = state.endpoints.temporal_address.rpartition(":")
    results["temporal frontend"] = processes.port_open(int(port), host)
    results["temporal ui"] = processes.http_ok(state.endpoints.temporal_ui)
    return results


def show(directory: Path, console: Console) -> bool:
    state = StackState.load(directory)
    if state is None:
        console.print(f"[yellow]no stack running[/] (nothing recorded in {directory})")
        return False
    console.print_json(state.model_dump_json())
    table = Table("part", "pid", "alive", title=f"stack {state.stack_id}")
    results = check(state)
    for name, ok in results.items():
        record = state.processes.get(name)
        table.add_row(
            name, str(record.pid) if record else "", "[green]yes[/]" if ok else "[red]no[/]"
        )
    console.print(table)
    return all(results.values())
