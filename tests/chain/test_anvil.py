"""AnvilProcess: anvil's own PID, 127.0.0.1 only, state dumped on stop and loaded on start."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tollway.devnet.anvil import AnvilProcess, dev_account_key
from tollway.devnet.toolpaths import anvil_binary
from tollway.netutil import free_port

pytestmark = pytest.mark.chain


def _rpc(url: str, method: str, *params: Any, timeout: float = 5) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    request = urllib.request.Request(  # noqa: S310 - local URL
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())["result"]


def test_state_survives_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    log = tmp_path / "anvil.log"
    port = free_port()
    with AnvilProcess(port=port, state_path=state, log_path=log) as anvil:
        pid = anvil.pid
        assert pid is not None
        assert Path(f"/proc/{pid}/exe").resolve() == Path(anvil_binary()).resolve()
        assert anvil.rpc_url == f"http://127.0.0.1:{port}"
        assert int(_rpc(anvil.rpc_url, "eth_chainId"), 16) == anvil.chain_id
        _rpc(anvil.rpc_url, "anvil_mine", "0x7")
    assert not Path(f"/proc/{pid}").exists()
    assert state.exists()
    assert f"Listening on 127.0.0.1:{port}" in log.read_text()

    with AnvilProcess(state_path=state) as anvil:
        assert int(_rpc(anvil.rpc_url, "eth_blockNumber"), 16) == 7


def test_dev_account_key_is_anvils_first_account() -> None:
    from eth_account import Account

    address = Account.from_key(dev_account_key(0)).address
    assert address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def test_mining_many_blocks_writes_no_state_to_disk(tmp_path: Path) -> None:
    """anvil keeps old states under ~/.foundry/anvil/tmp unless told not to; the suite mines
    millions of blocks, which once filled the disk (tens of GB)."""
    spill = Path.home() / ".foundry" / "anvil" / "tmp"
    before = set(spill.iterdir()) if spill.exists() else set()
    with AnvilProcess(log_path=tmp_path / "anvil.log") as anvil:
        _rpc(anvil.rpc_url, "anvil_mine", hex(3_000), timeout=120)  # slow on a cold 2-core box
        assert int(_rpc(anvil.rpc_url, "eth_blockNumber"), 16) == 3_000
        # Recent history stays queryable: the balance at a block a few back.
        _rpc(anvil.rpc_url, "eth_getBalance", "0x" + "00" * 20, hex(2_990))
        after = set(spill.iterdir()) if spill.exists() else set()
    assert after == before
