"""50 winning tickets from 3 senders are each redeemed exactly once while the orchestrator
worker is SIGKILLed twice and the chain is down for 30 s (anvil stopped, then restarted from
the state it saved)."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from eth_account import Account
from hexbytes import HexBytes
from web3.logs import DISCARD

from tests.e2e.stack_client import StackClient
from tollway.devnet.anvil import dev_account_key
from tollway.payments.sender import NonceStore, TicketSender
from tollway.protocol.header import JobRequest, encode_eth_address_header
from tollway.protocol.payment import TicketParams
from tollway.protocol.price import Price

ETH = 10**18
TICKETS = (17, 17, 16)
CHAIN_DOWN_SECONDS = 30


async def fund_senders(stack: StackClient, count: int) -> list[bytes]:
    keys = [bytes(Account.create().key) for _ in range(count)]
    async with stack.chain() as chain:
        for key in keys:
            await chain.transfer(dev_account_key(0), Account.from_key(key).address, 5 * ETH)
            await chain.broker.fund_deposit_and_reserve(key, ETH, ETH)
    return keys


def pay(stack: StackClient, key: bytes, tickets: int, nonces: Path) -> None:
    """One job from this sender, paid with `tickets` tickets (every devnet ticket wins)."""
    address = Account.from_key(key).address
    token = stack.orchestrator.get(
        "/process/token",
        headers={
            "Livepeer-Eth-Address": encode_eth_address_header(key, address),
            "Livepeer-Capability": "echo",
        },
    ).json()
    params = TicketParams.from_json(token["ticket_params"])
    batch = TicketSender(key, address, NonceStore(nonces)).batch(
        params, Price.from_json(token["price"]), tickets
    )
    job = JobRequest(capability="echo", timeout_seconds=30).signed_by(key, address)
    answer = stack.orchestrator.post(
        "/process/request/chaos",
        headers={"Livepeer": job.encode(), "Livepeer-Payment": batch.payment.encode()},
        content=b"paid",
    )
    assert answer.status_code == 200, answer.text


def test_redemption_survives_worker_kills_and_chain_outage(
    stack: StackClient, tmp_path: Path
) -> None:
    stack.wait_redemptions_idle()
    redeemed_before = set(stack.redeemed())
    recipient = stack.state.orchestrator_address
    fees_before = stack.bonding.functions.pendingFees(recipient, 0).call()
    keys = asyncio.run(fund_senders(stack, len(TICKETS)))
    for key, tickets in zip(keys, TICKETS, strict=True):
        pay(stack, key, tickets, tmp_path / "nonces.db")

    # The chain goes away before any ticket's params expire (anvil dumps its state), so no
    # redemption can have happened yet; the worker is killed while its batch retries.
    anvil = stack.stop("anvil", signal.SIGTERM)
    try:
        redeemed = stack.orchestrator.get("/v1/redemptions").json()["redeemed"]
        assert redeemed.keys() <= redeemed_before
        time.sleep(CHAIN_DOWN_SECONDS / 2)
        stack.restart("orchestrator-worker")
        time.sleep(CHAIN_DOWN_SECONDS / 2)
    finally:  # the later tests need the chain even if this one fails
        stack.restart_chain(anvil)
    # Second kill: as soon as the redemption batch is in flight again.
    deadline = time.monotonic() + 60
    while not stack.orchestrator.get("/v1/redemptions").json()["pending"]:
        assert time.monotonic() < deadline, "no redemption batch started after the outage"
        time.sleep(0.05)
    stack.restart("orchestrator-worker")

    fresh = stack.wait_redemptions(redeemed_before, sum(TICKETS), timeout=180)
    assert len(fresh) == sum(TICKETS)
    face_value = 0
    for ticket_hash, tx_hash in fresh.items():
        assert stack.broker.functions.usedTickets(HexBytes(ticket_hash)).call() is True
        receipt = stack.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        assert receipt["status"] == 1
        transfers = stack.broker.events.WinningTicketTransfer().process_receipt(
            receipt, errors=DISCARD
        )
        face_value = face_value or int(transfers[0]["args"]["amount"])
    # Exactly once: the fees credited are 50 face values, no more, no less.
    fees_after = stack.bonding.functions.pendingFees(recipient, 0).call()
    assert fees_after - fees_before == sum(TICKETS) * face_value
    status = stack.orchestrator.get("/v1/redemptions").json()
    assert status["queued"] == [] and status["pending"] == []
