"""The committed contract artifacts are exactly what the committed sources compile to."""

from __future__ import annotations

import pytest

from tollway.chain import compile as compile_module
from tollway.chain.artifacts import CONTRACT_NAMES, Artifact, load_artifact
from tollway.chain.compile import compile_contracts, main, stale_artifacts

pytestmark = pytest.mark.chain


@pytest.fixture(scope="module")
def compiled() -> dict[str, Artifact]:
    return compile_contracts()


def test_recompiled_artifacts_equal_committed(compiled: dict[str, Artifact]) -> None:
    assert set(compiled) == set(CONTRACT_NAMES)
    for name, artifact in compiled.items():
        assert artifact == load_artifact(name), f"{name}: run python -m tollway.chain.compile"
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
