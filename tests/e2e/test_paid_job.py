"""A paid BYOC job end to end: bytes back intact, credit exact, winning ticket credited on-chain."""

from __future__ import annotations

import base64
import math
import os

import httpx
from hexbytes import HexBytes
from web3 import Web3
from web3.logs import DISCARD

from tests.e2e.stack_client import ECHO_PRICE, StackClient


def test_job_output_credit_and_redemption(stack: StackClient) -> None:
    data = os.urandom(200_000)
    credit_before = stack.credit()
    redeemed_before = set(stack.redeemed())
    face_value = int.from_bytes(base64.b64decode(stack.token()["ticket_params"]["face_value"]))
    # A timeout longer than the credit that earlier tests left covers, so the job must pay.
    timeout = credit_before // ECHO_PRICE + 120
    assert timeout <= 3600, f"earlier tests left {credit_before} wei of credit: too much"
    answer = stack.gateway.post(
        "/v1/jobs",
        json={
            "capability": "echo",
            "path": "bytes",
            "input_base64": base64.b64encode(data).decode(),
            "timeout_seconds": timeout,
        },
    )
    assert answer.status_code == 202, answer.text
    job = stack.wait_job(answer.json()["job_id"])
    assert job["state"] == "succeeded", job

    # The container's output reached the client byte for byte.
    output = stack.gateway.get(f"/v1/jobs/{job['job_id']}/output")
    assert output.status_code == 200
    assert output.content == data
    assert output.headers["X-Orchestrator-Url"] == stack.state.endpoints.orchestrator_api

    # Credit = previous credit + EV of the accepted tickets - ceil(seconds) x price.
    assert job["tickets_sent"] >= 1
    credit_after = stack.credit()
    debit = credit_before + job["ticket_ev_wei"] - credit_after
    assert debit % ECHO_PRICE == 0
    assert 1 <= debit // ECHO_PRICE <= math.ceil(job["outcome"]["elapsed_seconds"])
    assert job["outcome"]["balance_wei"] == credit_after

    # Every ticket of this devnet wins: each is redeemed once and credits its face value to the
    # orchestrator as fees in the BondingManager (the ETH stays in the Minter until withdrawn).
    fresh = stack.wait_redemptions(redeemed_before, job["tickets_sent"])
    recipient = Web3.to_checksum_address(stack.state.orchestrator_address)
    assert stack.bonding.functions.isActiveTranscoder(recipient).call() is True
    for ticket_hash, tx_hash in fresh.items():
        assert stack.broker.functions.usedTickets(HexBytes(ticket_hash)).call() is True
        receipt = stack.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        assert receipt["status"] == 1
        transfers = stack.broker.events.WinningTicketTransfer().process_receipt(
            receipt, errors=DISCARD
        )
        # One transaction may redeem a batch of tickets: each pays the recipient its face value.
        assert transfers
        assert {(t["args"]["recipient"], t["args"]["amount"]) for t in transfers} == {
            (recipient, face_value)
        }
        # Other redemptions may share the block: the pending fees rose by what they all paid,
        # and the orchestrator's ETH only paid their gas.
        block = receipt["blockNumber"]

        def fees(at: int) -> int:
            return int(stack.bonding.functions.pendingFees(recipient, 0).call(block_identifier=at))

        def eth(at: int) -> int:
            return stack.w3.eth.get_balance(recipient, at)

        gas_costs = 0
        paid = 0
        redeeming = 0
        for tx in stack.w3.eth.get_block(block, full_transactions=True)["transactions"]:
            assert not isinstance(tx, bytes)
            r = stack.w3.eth.get_transaction_receipt(tx["hash"])
            amounts = [
                t["args"]["amount"]
                for t in stack.broker.events.WinningTicketTransfer().process_receipt(
                    r, errors=DISCARD
                )
                if t["args"]["recipient"] == recipient
            ]
            paid += sum(amounts)
            redeeming += len(amounts)
            if tx["from"] == recipient:
                gas_costs += r["gasUsed"] * r["effectiveGasPrice"]
        # The fee factor rounds down at each ticket: under 1 wei each.
        assert 0 <= paid - (fees(block) - fees(block - 1)) <= redeeming
        assert paid >= face_value
        assert eth(block) - eth(block - 1) == -gas_costs

    # Operators see the same story in Prometheus.
    def counter(url: str, name: str) -> float:
        lines = httpx.get(url).text.splitlines()
        return sum(float(line.split()[-1]) for line in lines if line.startswith(name + " "))

    endpoints = stack.state.endpoints
    # Jobs run in the gateway API's own job worker (eager start), or a gateway worker's.
    sent = sum(
        counter(url, "tollway_tickets_sent_total")
        for url in (endpoints.gateway_metrics, endpoints.gateway_worker_metrics)
    )
    assert sent >= 1
    assert counter(endpoints.orchestrator_metrics, "tollway_tickets_received_total") >= 1
    assert counter(endpoints.orchestrator_worker_metrics, "tollway_tickets_redeemed_total") >= 1
    won = counter(endpoints.orchestrator_metrics, "tollway_ticket_value_won_wei_total")
    redeemed = counter(
        endpoints.orchestrator_worker_metrics, "tollway_ticket_value_redeemed_wei_total"
    )
    assert won >= face_value and redeemed >= face_value


def test_idempotency_key_runs_a_job_once(stack: StackClient) -> None:
    body = {"capability": "echo", "input": {"n": 1}, "idempotency_key": "same-key-1"}
    first = stack.gateway.post("/v1/jobs", json=body)
    second = stack.gateway.post("/v1/jobs", json=body)
    assert first.status_code == second.status_code == 202
    assert first.json()["job_id"] == second.json()["job_id"]
    job = stack.wait_job(first.json()["job_id"])
    third = stack.gateway.post("/v1/jobs", json=body)
    assert third.json()["job_id"] == job["job_id"]
    assert stack.gateway.get(f"/v1/jobs/{job['job_id']}/output").json() == {"n": 1}


def test_livepeer_compatible_sync_request(stack: StackClient) -> None:
    """A go-livepeer client: unsigned `Livepeer` header, body relayed, `X-Orchestrator-Url` set."""
    header = base64.b64encode(
        b'{"request": "{}", "parameters": "{}", "capability": "echo", "timeout_seconds": 30}'
    ).decode()
    answer = stack.gateway.post(
        "/process/request/some/route",
        content=b"\x00binary\xffpayload",
        headers={"Livepeer": header, "Content-Type": "application/octet-stream"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.content == b"\x00binary\xffpayload"
    assert answer.headers["X-Orchestrator-Url"] == stack.state.endpoints.orchestrator_api
    assert int(answer.headers["Livepeer-Balance"]) == stack.credit()
    assert '"path": "/some/route"' in answer.headers["X-Metadata"]
