"""The committed contract artifacts are exactly what the committed sources compile to."""

from __future__ import annotations

from typing import Any

import pytest

from tollway.chain.artifacts import CONTRACT_NAMES, Artifact, load_artifact
from tollway.devnet import compile as compile_module
from tollway.devnet.compile import compile_contracts, main, stale_artifacts

pytestmark = pytest.mark.chain


@pytest.fixture(scope="module")
def compiled() -> dict[str, Artifact]:
    return compile_contracts()


def test_recompiled_artifacts_equal_committed(compiled: dict[str, Artifact]) -> None:
    assert set(compiled) == set(CONTRACT_NAMES)
    for name, artifact in compiled.items():
        assert artifact == load_artifact(name), f"{name}: run python -m tollway.devnet.compile"
        assert artifact.compiler.startswith("solc-js 0.8.37+")
    assert stale_artifacts(compiled) == []


def test_check_mode_exit_codes(
    compiled: dict[str, Artifact],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(compile_module, "compile_contracts", lambda: compiled)
    assert main(["--check"]) == 0
    assert "up to date" in capsys.readouterr().out

    changed = compiled["TicketBroker"].model_copy(update={"bytecode": "0x00"})
    monkeypatch.setattr(compile_module, "compile_contracts", lambda: {"TicketBroker": changed})
    assert main(["--check"]) == 1
    assert "out of date: TicketBroker" in capsys.readouterr().err


def test_ticket_broker_abi_has_livepeer_names() -> None:
    abi = load_artifact("TicketBroker").abi
    names = {entry.get("name") for entry in abi}
    assert {
        "fundDeposit",
        "fundReserve",
        "fundDepositAndReserve",
        "getSenderInfo",
        "usedTickets",
        "getTicketHash",
        "redeemWinningTicket",
        "DepositFunded",
        "ReserveFunded",
        "WinningTicketRedeemed",
        "WinningTicketTransfer",
    } <= names
    redeem = next(e for e in abi if e.get("name") == "redeemWinningTicket")
    ticket_types = [c["type"] for c in redeem["inputs"][0]["components"]]
    uints = ["uint256"] * 3
    assert ticket_types == ["address", "address", *uints, "bytes32", "bytes"]
    assert [i["type"] for i in redeem["inputs"][1:]] == ["bytes", "uint256"]


def _signatures(name: str) -> set[str]:
    """`name(type,...)` of every function and event in the contract's ABI."""

    def type_of(param: dict[str, Any]) -> str:
        if param["type"].startswith("tuple"):
            inner = ",".join(type_of(c) for c in param["components"])
            return f"({inner}){param['type'][len('tuple') :]}"
        return str(param["type"])

    return {
        f"{e['name']}({','.join(type_of(i) for i in e['inputs'])})"
        for e in load_artifact(name).abi
        if e["type"] in ("function", "event")
    }


TICKET = "(address,address,uint256,uint256,uint256,bytes32,bytes)"
LIVEPEER_SIGNATURES = {
    "Controller": {"setContractInfo(bytes32,address,bytes20)", "getContract(bytes32)"},
    "LivepeerToken": {
        "transfer(address,uint256)",
        "approve(address,uint256)",
        "transferFrom(address,address,uint256)",
        "mint(address,uint256)",
    },
    "Minter": {
        "createReward(uint256,uint256)",
        "depositETH()",
        "trustedWithdrawETH(address,uint256)",
        "trustedTransferTokens(address,uint256)",
        "currentMintableTokens()",
    },
    "RoundsManager": {
        "initializeRound()",
        "currentRound()",
        "currentRoundInitialized()",
        "currentRoundStartBlock()",
        "blockHashForRound(uint256)",
        "lastInitializedRound()",
        "roundLength()",
        "NewRound(uint256,bytes32)",
    },
    "BondingManager": {
        "transcoder(uint256,uint256)",
        "bond(uint256,address)",
        "unbond(uint256)",
        "withdrawStake(uint256)",
        "reward()",
        "updateTranscoderWithFees(address,uint256,uint256)",
        "withdrawFees(address,uint256)",
        "claimEarnings(uint256)",
        "pendingStake(address,uint256)",
        "pendingFees(address,uint256)",
        "getTranscoder(address)",
        "getDelegator(address)",
        "getTranscoderPoolSize()",
        "isActiveTranscoder(address)",
        "Bond(address,address,address,uint256,uint256)",
        "Unbond(address,address,uint256,uint256,uint256)",
        "WithdrawStake(address,uint256,uint256,uint256)",
        "Reward(address,uint256)",
        "TranscoderUpdate(address,uint256,uint256)",
        "WithdrawFees(address,address,uint256)",
        "EarningsClaimed(address,address,uint256,uint256,uint256,uint256)",
    },
    "TicketBroker": {
        "fundDeposit()",
        "fundReserve()",
        "fundDepositAndReserve(uint256,uint256)",
        "fundDepositAndReserveFor(address,uint256,uint256)",
        "unlock()",
        "cancelUnlock()",
        "withdraw()",
        "claimableReserve(address,address)",
        "claimedReserve(address,address)",
        f"batchRedeemWinningTickets({TICKET}[],bytes[],uint256[])",
        "Unlock(address,uint256,uint256)",
        "UnlockCancelled(address)",
        "Withdrawal(address,uint256,uint256)",
        "ReserveClaimed(address,address,uint256)",
    },
    "ServiceRegistry": {"setServiceURI(string)", "getServiceURI(address)"},
}


@pytest.mark.parametrize("name", sorted(LIVEPEER_SIGNATURES))
def test_protocol_abis_have_livepeer_signatures(name: str) -> None:
    assert LIVEPEER_SIGNATURES[name] <= _signatures(name)
