"""Everything an orchestrator API request needs, built once in the app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from temporalio.client import Client
from temporalio.service import RPCError

from tollway.byoc.gpus import DEFAULT_REPORT_SECONDS, WorkerReport
from tollway.byoc.registry import CapabilityRegistry
from tollway.chain.client import ChainClient
from tollway.config import OrchestratorSettings
from tollway.errors import InsufficientCredit
from tollway.payments.ledger import Ledger
from tollway.payments.pricing import PriceBook
from tollway.payments.recipient import TicketRecipient
from tollway.payments.winners import WinningTicket
from tollway.protocol.capability import ExternalCapability
from tollway.workflows.redemption import RedemptionInput, RedemptionWorkflow

log = logging.getLogger("tollway.orchestrator")


def replica_waker(temporal: Client) -> Callable[[str, str], None]:
    """The registry's `wake` hook: signal the cold replica's ContainerWorkflow (its replica name
    is its workflow id) to start its container. Fire and forget: the request waits for the
    replica to register, and a lost signal is sent again on a later request."""
    pending: set[asyncio.Task[None]] = set()

    async def signal(name: str, replica: str) -> None:
        log.info("waking cold replica %s of %s", replica, name)
        try:
            await temporal.get_workflow_handle(replica).signal("wake")
        except RPCError as exc:
            log.warning("cannot wake replica %s of %s: %s", replica, name, exc)

    def wake(name: str, replica: str) -> None:
        task = asyncio.get_running_loop().create_task(signal(name, replica))
        pending.add(task)
        task.add_done_callback(pending.discard)

    return wake


def redemption_workflow_id(recipient: str) -> str:
    return f"redemption-{recipient}"


REDEMPTION_QUERY_TIMEOUT = timedelta(seconds=1)
_last_waiting: dict[str, list[str]] = {}
"""The redemption workflow's queued and pending tickets when it last answered, per recipient."""


async def pending_face_value(temporal: Client, ledger: Ledger, address: str, sender: str) -> int:
    """Face value of `sender`'s winning tickets not redeemed yet: queued or in flight in the
    redemption workflow, or not yet handed to it. A query waits for a worker, so while the
    orchestrator worker is down this answers within a second from the last list it gave."""
    handle = temporal.get_workflow_handle(redemption_workflow_id(address))
    try:
        status = await handle.query("status", rpc_timeout=REDEMPTION_QUERY_TIMEOUT)
        _last_waiting[address] = [*status["queued"], *status["pending"]]
    except RPCError:
        pass
    waiting = _last_waiting.get(address, []) + [h for h, _ in ledger.pending_winners()]
    tickets = [WinningTicket.model_validate_json(body) for body in ledger.winners(waiting)]
    return sum(t.face_value for t in tickets if t.sender == sender)


@dataclass
class OrchestratorServices:
    settings: OrchestratorSettings
    address: str
    ledger: Ledger
    recipient: TicketRecipient
    registry: CapabilityRegistry
    temporal: Client
    http: httpx.AsyncClient
    chain: ChainClient
    prices: PriceBook
    private_key: bytes
    winners_waiting: asyncio.Event = field(default_factory=asyncio.Event)
    reserved: dict[tuple[str, str], int] = field(default_factory=dict)
    workers: dict[str, WorkerReport] = field(default_factory=dict)
    """GPU workers by id, as they last reported themselves."""
    worker_seen: dict[str, float] = field(default_factory=dict)
    """When each GPU worker last reported (time.monotonic())."""
    listening_since: float = field(default_factory=time.monotonic)

    def report_worker(self, report: WorkerReport) -> None:
        self.workers[report.worker_id] = report
        self.worker_seen[report.worker_id] = time.monotonic()

    def workers_settled(self) -> bool:
        """Listening long enough that every live GPU worker has reported (after a restart, a
        worker not heard from yet is not yet lost)."""
        longest = max(
            [DEFAULT_REPORT_SECONDS, *(w.report_every_seconds for w in self.workers.values())]
        )
        waited = time.monotonic() - self.listening_since
        return waited >= self.settings.worker_missed_reports * longest

    def live_workers(self) -> list[WorkerReport]:
        """The GPU workers that reported within `worker_missed_reports` of their intervals."""
        now = time.monotonic()
        missed = self.settings.worker_missed_reports
        return [
            report
            for worker_id, report in sorted(self.workers.items())
            if now - self.worker_seen[worker_id] <= missed * report.report_every_seconds
        ]

    async def price_wei(self, capability: ExternalCapability, sender: str | None) -> int:
        """What `sender` pays per unit now: the PriceBook's price (overrides, surge, gas)."""
        if sender is None or capability.price_wei(self.prices.settings.usd_per_eth) == 0:
            return self.prices.price_wei(capability, sender, self.registry.load(capability.name))
        overhead = await self.recipient.redemption_overhead(sender)
        return self.prices.price_wei(
            capability, sender, self.registry.load(capability.name), overhead
        )

    async def charged_price_wei(self, capability: ExternalCapability, sender: str) -> int:
        """The price a job is billed at: the current one, or a lower one still quoted to it."""
        current = await self.price_wei(capability, sender)
        quoted = self.ledger.quoted_price(sender, capability.name, time.time())
        return current if quoted is None else min(current, quoted)

    @contextlib.contextmanager
    def admit(self, sender: str, capability: str, minimum: int) -> Iterator[int]:
        """Admit a job only if credit not held by the sender's other running jobs covers
        `minimum`, and hold that much until the job ends (yields the credit it saw)."""
        key = (sender, capability)
        held = self.reserved.get(key, 0)
        balance = self.ledger.balance_wei(sender, capability)
        if balance - held < minimum:
            raise InsufficientCredit(
                f"credit {balance} wei ({held} wei held by running jobs) is below the "
                f"{minimum} wei minimum",
                balance=balance,
                held=held,
                required=minimum,
            )
        self.reserved[key] = held + minimum
        try:
            yield balance
        finally:
            self.reserved[key] -= minimum
            if not self.reserved[key]:
                del self.reserved[key]

    async def hand_off_winners(self) -> int:
        """Signal-with-start the redemption workflow for every winner not yet handed off."""
        sent = 0
        for ticket_hash, body in self.ledger.pending_winners():
            winner = WinningTicket.model_validate(json.loads(body))
            await self.temporal.start_workflow(
                RedemptionWorkflow.run,
                RedemptionInput(recipient=self.address),
                id=redemption_workflow_id(self.address),
                task_queue=self.settings.task_queue,
                start_signal="ticket",
                start_signal_args=[winner],
            )
            self.ledger.mark_handed_off(ticket_hash)
            sent += 1
        return sent

    async def hand_off_forever(self, retry_seconds: float = 2.0) -> None:
        """The one task that hands winners to Temporal: woken by new winners, and retrying
        every few seconds while Temporal is unreachable, so no winning ticket is forgotten."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.winners_waiting.wait(), retry_seconds)
            self.winners_waiting.clear()
            try:
                await self.hand_off_winners()
            except Exception:
                log.exception("winning-ticket hand-off failed; retrying in %s s", retry_seconds)
