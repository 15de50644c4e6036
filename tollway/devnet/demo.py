"""`tollway demo`: one paid BYOC job through the whole lifecycle, shown step by step."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from tollway.devnet.state import StackState
from tollway.devnet.status import check
from tollway.devnet.up import Ports, bring_up

__all__ = ["TERMINAL", "DemoFailed", "run_demo"]

TERMINAL = {"succeeded", "rejected", "failed"}


class DemoFailed(RuntimeError):
    pass


def _ensure_stack(directory: Path, console: Console) -> StackState:
    state = StackState.load(directory)
    if state is not None and all(check(state).values()):
        console.print(f"using the running stack {state.stack_id} ({directory})")
        return state
    if state is not None:
        from tollway.devnet.down import bring_down

        console.print("[yellow]the recorded stack is not healthy; restarting it[/]")
        bring_down(directory, console)
    return bring_up(directory, Ports(), console)


def _wait_job(http: httpx.Client, job_id: str, console: Console) -> dict[str, Any]:
    seen = ""
    with console.status("job submitted") as spinner:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            answer = http.get(f"/v1/jobs/{job_id}")
            if answer.status_code == 200:
                job: dict[str, Any] = answer.json()
                if job["state"] != seen:
                    seen = job["state"]
                    console.print(
                        f"  · {seen}"
                        + (f" ({job['orchestrator']})" if job.get("orchestrator") else "")
                    )
                    spinner.update(f"job {seen}")
                if seen in TERMINAL:
                    return job
            time.sleep(0.05)
    raise DemoFailed(f"job {job_id} did not finish within 120 s (last state {seen or 'unknown'})")


def _wait_redemption(orchestrator: str, before: set[str], console: Console) -> dict[str, str]:
    with console.status("waiting for the winning ticket's params to expire and its redemption"):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            status = httpx.get(f"{orchestrator}/v1/redemptions", timeout=5).json()
            fresh = {h: tx for h, tx in status["redeemed"].items() if h not in before}
            failed = {h: why for h, why in status["failed"].items() if h not in before}
            if failed:
                raise DemoFailed(f"redemption failed: {failed}")
            if fresh:
                return fresh
            time.sleep(0.25)
    raise DemoFailed("no winning ticket was redeemed within 90 s")


def _earlier_redemptions(orchestrator: str, before: set[str], console: Console) -> dict[str, str]:
    """For a job paid from credit bought earlier: the redemptions of the tickets that bought it,
    those still waiting for their params to expire first, else the latest ones done."""
    status = httpx.get(f"{orchestrator}/v1/redemptions", timeout=5).json()
    if status["queued"] or status.get("pending"):
        return _wait_redemption(orchestrator, before, console)
    latest = list(status["redeemed"].items())[-3:]
    if not latest:
        raise DemoFailed("the job was paid from credit, but no ticket was ever redeemed")
    return dict(latest)


def run_demo(directory: Path, console: Console) -> None:
    started = time.monotonic()
    state = _ensure_stack(directory, console)
    orchestrator = state.endpoints.orchestrator_api
    before = set(httpx.get(f"{orchestrator}/v1/redemptions", timeout=5).json()["redeemed"])
    payload = {"hello": "tollway", "sent_at": datetime.now(UTC).isoformat()}
    headers = {"Authorization": f"Bearer {state.api_key}"}
    with httpx.Client(base_url=state.endpoints.gateway_api, headers=headers, timeout=30) as http:
        console.print("\n[bold]submitting a job[/]: capability echo, 60 s timeout")
        job_started = time.monotonic()
        answer = http.post(
            "/v1/jobs", json={"capability": "echo", "path": "demo", "input": payload}
        )
        if answer.status_code != 202:
            raise DemoFailed(f"gateway refused the job: {answer.status_code} {answer.text}")
        job_id = answer.json()["job_id"]
        job = _wait_job(http, job_id, console)
        latency = time.monotonic() - job_started
        if job["state"] != "succeeded":
            raise DemoFailed(f"job {job['state']}: {json.dumps(job, indent=2)}")
        output = http.get(f"/v1/jobs/{job_id}/output").content
    if output != json.dumps(payload).encode():
        raise DemoFailed(f"echo output differs from the input: {output!r}")
    console.print(
        f"\n[bold]output[/] ({len(output)} bytes, identical to the input): {output.decode()}"
    )
    console.print(f"[bold]served by[/]      {job['orchestrator']}")
    console.print(
        f"[bold]paid with[/]      {job['tickets_sent']} PM ticket(s), expected value "
        f"{job['ticket_ev_wei']} wei; compute cost {job['cost_wei']} wei"
    )
    console.print(f"[bold]job latency[/]    {latency * 1000:.0f} ms end to end")
    console.print(
        "\n[dim]devnet: the orchestrator sets face value = expected value, so every ticket wins[/]"
    )
    if job["tickets_sent"]:
        redeemed = _wait_redemption(orchestrator, before, console)
    else:
        balance = (job.get("outcome") or {}).get("balance_wei")
        console.print(
            "[bold]paid from[/]      credit that earlier tickets bought "
            f"({balance if balance is not None else 'unknown'} wei of it left after this job)"
        )
        redeemed = _earlier_redemptions(orchestrator, before, console)
    for ticket_hash, tx_hash in redeemed.items():
        console.print(
            f"[bold]redeemed[/]       ticket {ticket_hash[:18]}… in transaction {tx_hash}"
        )
    console.print(
        f"\nTemporal UI: {state.endpoints.temporal_ui}/namespaces/gateway/workflows/{job_id}"
        f"\n[green]demo finished in {time.monotonic() - started:.1f} s[/]"
    )
