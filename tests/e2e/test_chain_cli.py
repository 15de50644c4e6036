"""`tollway chain` against the stack's devnet: sender funds and unlock, bonding and status."""

from __future__ import annotations

import json
from typing import Any

import pytest
from eth_account import Account
from typer.testing import CliRunner

from tests.e2e.stack_client import StackClient
from tollway.cli.chain import app, parse_amount
from tollway.devnet.anvil import dev_account_key

ETH = 10**18


def chain_cli(stack: StackClient, *args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(app, ["--dir", stack.state.directory, *args])
    assert (result.exit_code == 0) == ok, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.output


def as_json(output: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(output)
    return data


def test_sender_funds_and_unlock(stack: StackClient) -> None:
    stack.wait_redemptions_idle()  # an earlier test's winning ticket would draw on the deposit
    before = as_json(chain_cli(stack, "sender-info"))
    assert before["sender"] == stack.state.gateway_address
    chain_cli(stack, "fund-deposit", "1.5eth")
    chain_cli(stack, "fund-reserve", "1000")
    after = as_json(chain_cli(stack, "sender-info"))
    assert after["deposit"] == before["deposit"] + 3 * ETH // 2
    assert after["reserve_funds_remaining"] == before["reserve_funds_remaining"] + 1000

    chain_cli(stack, "unlock")
    assert as_json(chain_cli(stack, "sender-info"))["withdraw_round"] > after["round"]
    withdraw = chain_cli(stack, "withdraw", ok=False)  # the unlock period is not over
    assert "ChainError" in withdraw
    chain_cli(stack, "cancel-unlock")
    assert as_json(chain_cli(stack, "sender-info"))["withdraw_round"] == 0


def test_bond_and_status(stack: StackClient) -> None:
    deployer = Account.from_key(dev_account_key(0)).address
    before = as_json(chain_cli(stack, "status", deployer))["delegator"]["bonded_amount"]
    chain_cli(stack, "bond", "100lpt")
    status = as_json(chain_cli(stack, "status", deployer))
    assert status["delegator"]["delegate_address"] == stack.state.orchestrator_address
    assert status["delegator"]["bonded_amount"] == before + 100 * ETH
    # Unbond it all again (with any reward it earned meanwhile, if the round's reward() came
    # in between), so later tests see the orchestrator's fees unshared.
    assert "unbonded" in chain_cli(stack, "unbond", "100lpt")
    left = as_json(chain_cli(stack, "status", deployer))["delegator"]["bonded_amount"]
    assert before <= left < before + 100 * ETH
    if left > before:
        chain_cli(stack, "unbond", str(left - before))
    after = as_json(chain_cli(stack, "status", deployer))["delegator"]["bonded_amount"]
    assert after == before
    orchestrator = as_json(chain_cli(stack, "status"))
    assert orchestrator["transcoder"]["active"] is True


def test_amounts_and_bad_input(stack: StackClient) -> None:
    assert parse_amount("1000") == 1000
    assert parse_amount("0.5 ETH") == ETH // 2
    assert parse_amount("2lpt") == 2 * ETH
    for bad in ("-1", "1.5", "abc", "0.0000000000000000001eth"):
        with pytest.raises(Exception, match="not"):
            parse_amount(bad)
    output = chain_cli(stack, "fund-deposit", "lots", ok=False)
    assert "not an amount" in output


def test_orchestrator_info_shows_its_stake(stack: StackClient) -> None:
    info = stack.orchestrator.get("/v1/orchestrator").json()
    assert info["address"] == stack.state.orchestrator_address
    assert info["transcoder"]["active"] is True
    assert info["transcoder"]["total_stake"] > 0
    assert "echo" in info["capabilities"]
