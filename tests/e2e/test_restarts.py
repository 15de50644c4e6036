"""An orchestrator killed between two jobs: credit, issued params, used nonces and capability
registrations all survive (go-livepeer loses the first three and the registrations)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.stack_client import ECHO_PRICE, StackClient
from tollway.payments.sender import NonceStore, TicketSender
from tollway.protocol.payment import TicketParams
from tollway.protocol.price import Price


def test_orchestrator_restart_keeps_credit_params_and_nonces(
    stack: StackClient, tmp_path: Path
) -> None:
    token = stack.token()
    params = TicketParams.from_json(token["ticket_params"])
    price = Price.from_json(token["price"])
    sender = TicketSender(stack.gateway_key, stack.gateway_address, NonceStore(tmp_path / "n.db"))
    before_restart = sender.batch(params, price, 1)
    ev = before_restart.ev_wei

    with stack.chain_frozen():
        credit_start = stack.credit()
        headers = {
            "Livepeer": stack.signed_header(),
            "Livepeer-Payment": before_restart.payment.encode(),
        }
        first = stack.orchestrator.post("/process/request/one", headers=headers, content=b"1")
        assert first.status_code == 200, first.text
        credit_before = stack.credit()
        assert credit_before == credit_start + ev - ECHO_PRICE

        stack.restart("orchestrator-api")

        # Credit survived, to the wei.
        assert stack.credit() == credit_before
        # The payment accepted before the restart is not credited twice.
        replay = stack.orchestrator.post("/process/request/one", headers=headers, content=b"1")
        assert replay.status_code == 400
        assert "already used" in replay.json()["detail"]
        assert stack.credit() == credit_before
        # Params issued before the restart still validate (the HMAC secret persisted).
        after_restart = sender.batch(params, price, 1)
        headers["Livepeer-Payment"] = after_restart.payment.encode()
        second = stack.orchestrator.post("/process/request/two", headers=headers, content=b"2")
        assert second.status_code == 200, second.text
        assert second.content == b"2"
        assert stack.credit() == credit_before + ev - ECHO_PRICE

    # The echo registration survived too: a gateway job still finds and pays the orchestrator.
    answer = stack.gateway.post("/v1/jobs", json={"capability": "echo", "input": [1, 2]})
    job = stack.wait_job(answer.json()["job_id"])
    assert job["state"] == "succeeded", job
    assert stack.gateway.get(f"/v1/jobs/{job['job_id']}/output").json() == [1, 2]
