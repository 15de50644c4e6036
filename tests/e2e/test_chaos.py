"""No durable job is lost to a process dying: 130 jobs, eight at a time, through the gateway's
`/v1/jobs` while each process of the embedded stack is SIGKILLed and started again in turn (the
gateway worker and API, the orchestrator API and worker, the GPU worker, the Temporal server on
its persisted database) and then the chain is away for 30 s.

Every job must succeed with its exact output within its deadline; the orchestrator's credit for
the gateway must move by the EV of the tickets it accepted less exactly one charge per job; and
every winning ticket it accepted must be redeemed, once.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.stack_client import ECHO_PRICE, TERMINAL, StackClient
from tollway.devnet import processes
from tollway.payments.ledger import Ledger

JOBS = 130
CONCURRENCY = 8
JOB_TIMEOUT_SECONDS = 90
RELEASE_EVERY_SECONDS = 0.4
"""Jobs are released at this pace, so that work is in flight at every kill."""
KILLED = (
    "gateway-worker",
    "gateway-api",
    "orchestrator-api",
    "orchestrator-worker",
    "gpu-worker",
    "temporal",
)
FIRST_KILL_AT_JOB = 15
JOBS_BETWEEN_KILLS = 15
CHAIN_DOWN_SECONDS = 30


@dataclass
class Finished:
    n: int
    status: dict[str, Any]
    output: bytes
    seconds: float


def job_body(n: int) -> dict[str, Any]:
    """Every fourth job sleeps a second in the container (so kills find jobs mid-run); the
    others are echoed back."""
    if n % 4 == 0:
        return {"capability": "echo", "path": "sleep", "input": {"seconds": 1}}
    return {"capability": "echo", "path": f"chaos/{n}", "input": {"n": n, "pad": "x" * n}}


def expected_output(n: int) -> Any:
    return {"slept": 1.0} if n % 4 == 0 else {"n": n, "pad": "x" * n}


def until_answered(call: Any, what: str, deadline: float) -> httpx.Response:
    """`call()` until the gateway answers it (it is restarted in the run): transport errors
    and 5xx answers are retried, as a client of a restarting service would."""
    last = ""
    while time.monotonic() < deadline:
        try:
            answer: httpx.Response = call()
        except httpx.TransportError as exc:
            last = repr(exc)
        else:
            if answer.status_code < 500:
                return answer
            last = f"{answer.status_code} {answer.text[:200]}"
        time.sleep(0.2)
    raise AssertionError(f"{what}: no answer before the deadline (last: {last})")


class Driver:
    def __init__(self, stack: StackClient, run: str) -> None:
        self.stack = stack
        self.run = run
        self.started = time.monotonic()
        self.released = 0
        self.lock = threading.Lock()

    def release(self, n: int) -> None:
        time.sleep(max(0.0, self.started + n * RELEASE_EVERY_SECONDS - time.monotonic()))
        with self.lock:
            self.released = max(self.released, n + 1)

    def job(self, n: int) -> Finished:
        self.release(n)
        gateway = self.stack.gateway
        body = {**job_body(n), "timeout_seconds": JOB_TIMEOUT_SECONDS}
        began = time.monotonic()
        deadline = began + JOB_TIMEOUT_SECONDS + 30
        key = f"{self.run}-{n}"
        accepted = until_answered(
            lambda: gateway.post("/v1/jobs", json=body, headers={"Idempotency-Key": key}),
            f"job {n} submission",
            deadline,
        )
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]
        while True:
            answer = until_answered(
                lambda: gateway.get(f"/v1/jobs/{job_id}"), f"job {n} status", deadline
            )
            status: dict[str, Any] = answer.json()
            if status["state"] in TERMINAL:
                break
            assert time.monotonic() < deadline, f"job {n} still {status['state']}"
            time.sleep(0.1)
        seconds = time.monotonic() - began
        output = until_answered(
            lambda: gateway.get(f"/v1/jobs/{job_id}/output"), f"job {n} output", deadline
        )
        return Finished(n, status, output.content, seconds)


def received_wei(ledger: Path, sender: str) -> int:
    """The EV the orchestrator ever credited from `sender` for echo (its durable ledger)."""
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
        senders = [row[0] for row in db.execute("SELECT sender FROM received")]
    match = [s for s in senders if s.lower() == sender.lower()]
    return Ledger(ledger).received_wei(match[0], "echo") if match else 0


def winning_tickets(ledger: Path) -> dict[str, int]:
    """Every winning ticket the orchestrator accepted: hash -> face value."""
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT ticket_hash, body FROM winning_tickets").fetchall()
    return {str(h): int(json.loads(b)["face_value"]) for h, b in rows}


def test_no_job_is_lost_when_any_process_dies(stack: StackClient) -> None:
    stack.wait_redemptions_idle()
    ledger = Path(stack.state.directory) / "orchestrator" / "ledger.sqlite"
    assert ledger.exists(), ledger
    credit_before = stack.credit()
    received_before = received_wei(ledger, stack.gateway_address)
    winners_before = winning_tickets(ledger)
    recipient = stack.state.orchestrator_address
    fees_before = stack.bonding.functions.pendingFees(recipient, 0).call()

    driver = Driver(stack, f"chaos-{uuid.uuid4().hex[:8]}")
    killed: list[tuple[str, float]] = []
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        running = [pool.submit(driver.job, n) for n in range(JOBS)]
        for index, name in enumerate(KILLED):
            due = FIRST_KILL_AT_JOB + index * JOBS_BETWEEN_KILLS
            processes.wait_until(
                lambda due=due: driver.released >= due,  # type: ignore[misc]
                f"job release before killing {name}",
                timeout=120,
            )
            began = time.monotonic()
            restart(stack, name)
            killed.append((name, time.monotonic() - began))
        processes.wait_until(
            lambda: driver.released >= FIRST_KILL_AT_JOB + len(KILLED) * JOBS_BETWEEN_KILLS,
            "job release before the chain outage",
            timeout=120,
        )
        anvil = stack.stop("anvil", signal.SIGTERM)
        try:
            time.sleep(CHAIN_DOWN_SECONDS)
        finally:
            stack.restart_chain(anvil)
        finished = [f.result() for f in running]

    print(f"\nrestarts (s): {[(n, round(s, 1)) for n, s in killed]}")
    print(f"slowest job: {max(f.seconds for f in finished):.1f} s")
    failed = [
        (
            f.n,
            f.status["state"],
            f.status.get("error"),
            *(f"{a['orchestrator']} {a['stage']}: {a['reason']}" for a in f.status["attempts"]),
        )
        for f in finished
        if f.status["state"] != "succeeded"
    ]
    assert not failed, "\n".join(str(f) for f in failed[:5])
    for done in finished:
        assert json.loads(done.output) == expected_output(done.n), done.n
        assert done.seconds <= JOB_TIMEOUT_SECONDS, (done.n, done.seconds)

    # The job index (on PostgreSQL) saw each job once: queued once, ended once, at its cost.
    for done in finished:
        job_id = done.status["job_id"]
        events = stack.gateway.get(f"/v1/jobs/{job_id}/events").json()
        kinds = [e["type"] for e in events]
        assert kinds.count("job.queued") == 1 and kinds[-1] == "job.succeeded", (job_id, kinds)
        assert sum(k.endswith(("succeeded", "failed", "rejected")) for k in kinds) == 1, kinds
        assert int(events[-1]["data"]["cost_wei"]) == done.status["cost_wei"], job_id
        record = stack.gateway.get(f"/v1/jobs/{job_id}").json()
        assert record["completed_at"] and record["state"] == "succeeded", record

    # Credit: what the orchestrator accepted, less one charge per job (echo bills by second).
    charges = sum(int(f.status["outcome"]["units"]) * ECHO_PRICE for f in finished)
    received = received_wei(ledger, stack.gateway_address) - received_before
    # Nothing is received when earlier tests left credit enough for the whole run (a full suite
    # can); the balance below must hold either way.
    assert 0 <= received <= sum(f.status["ticket_ev_wei"] for f in finished)
    drift = stack.credit() - (credit_before + received - charges)
    assert abs(drift) <= JOBS, (drift, received, charges)  # floor rounding: < 1 wei a payment

    # Redemption: every winning ticket accepted in the run is redeemed, and none twice.
    winners = {h: v for h, v in winning_tickets(ledger).items() if h not in winners_before}
    stack.wait_redemptions_idle(timeout=180)
    redeemed = stack.redeemed()
    assert winners.keys() <= redeemed.keys()
    fees_after = stack.bonding.functions.pendingFees(recipient, 0).call()
    # The fee factor rounds down at each redemption: under 1 wei each, never a ticket more.
    lost_to_rounding = sum(winners.values()) - (fees_after - fees_before)
    assert 0 <= lost_to_rounding <= len(winners), (lost_to_rounding, len(winners))


def restart(stack: StackClient, name: str) -> None:
    """SIGKILL `name` and start it again; the Temporal server has no health URL, so its port
    is waited for."""
    stack.restart(name)
    if name == "temporal":
        port = int(stack.state.endpoints.temporal_address.rpartition(":")[2])
        processes.wait_until(lambda: processes.port_open(port), "temporal", timeout=60)
