"""Run the anvil binary as a local devnet node (always on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from eth_account.hdaccount import key_from_seed, seed_from_mnemonic

from tollway.devnet.toolpaths import anvil_binary
from tollway.netutil import LOCALHOST, free_port

__all__ = ["PRUNE_HISTORY", "AnvilError", "AnvilProcess", "dev_account_key"]

ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
"""anvil's default mnemonic; its first accounts start with 10,000 ETH each."""

DEFAULT_CHAIN_ID = 31337


def dev_account_key(index: int) -> bytes:
    """The private key of anvil's default funded account `index` (devnet and tests only)."""
    return bytes(key_from_seed(seed_from_mnemonic(ANVIL_MNEMONIC, ""), f"m/44'/60'/0'/0/{index}"))


PRUNE_HISTORY = ("--prune-history", "10000")
"""Keep the latest 10,000 states in memory and none on disk: without it anvil writes every
old state under ~/.foundry/anvil/tmp, tens of GB once tests mine a million blocks, and leaves
them there when it is killed."""


class AnvilError(RuntimeError):
    pass


class AnvilProcess:
    """One anvil process. Its PID is anvil's own (no shell in between).

    `state_path` loads chain state from the file when it exists and dumps it there on `stop()`.
    With `port=None` a free port is chosen (and re-chosen if another process takes it first).
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        state_path: Path | None = None,
        log_path: Path | None = None,
        chain_id: int = DEFAULT_CHAIN_ID,
        block_time: float | None = None,
        startup_timeout: float = 20.0,
    ) -> None:
        self._requested_port = port
        self.port = port or 0
        self.state_path = state_path
        self.log_path = log_path
        self.chain_id = chain_id
        self.block_time = block_time
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def rpc_url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _command(self) -> list[str]:
        command = [anvil_binary(), "--host", LOCALHOST, "--port", str(self.port)]
        command += ["--chain-id", str(self.chain_id), *PRUNE_HISTORY]
        if self.state_path is not None:
            command += ["--state", str(self.state_path)]
        if self.block_time is not None:
            command += ["--block-time", str(self.block_time)]
        return command

    def start(self) -> AnvilProcess:
        """Start anvil and return once its RPC answers `eth_chainId`."""
        if self._process is not None:
            raise AnvilError("anvil is already started")
        attempts = 1 if self._requested_port else 3
        for attempt in range(attempts):
            self.port = self._requested_port or free_port()
            self._spawn()
            try:
                self._wait_ready()
                return self
            except AnvilError:
                exited = self._process is not None and self._process.poll() is not None
                self.stop()
                if not exited or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def _spawn(self) -> None:
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            log = open(self.log_path, "ab")
        else:
            log = open(os.devnull, "wb")
        try:
            self._process = subprocess.Popen(
                self._command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        finally:
            log.close()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise AnvilError(
                    f"anvil exited with code {self._process.returncode} on port {self.port}"
                    f"{self._log_hint()}"
                )
            if self._rpc_answers():
                return
            time.sleep(0.05)
        raise AnvilError(f"anvil did not answer on {self.rpc_url} within {self.startup_timeout}s")

    def _log_hint(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        tail = self.log_path.read_text(errors="replace")[-2000:]
        return f"; log {self.log_path}:\n{tail}"

    def _rpc_answers(self) -> bool:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
        request = urllib.request.Request(  # noqa: S310 - our own http://127.0.0.1 URL
            self.rpc_url, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=1) as response:  # noqa: S310
                return "result" in json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (anvil dumps `state_path`), then SIGKILL if it lingers past `timeout`."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)

    def __enter__(self) -> AnvilProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
