"""ETH keys held in encrypted keystore files (the key itself never reaches logs or history)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from eth_account import Account

from tollway.config import KeySettings

__all__ = ["create_keystore", "load_key"]


def create_keystore(settings: KeySettings, private_key: bytes | None = None) -> str:
    """Write a new (or the given) key to an encrypted keystore; returns its address."""
    account = Account.from_key(private_key) if private_key else Account.create()
    password = secrets.token_hex(16)
    settings.password_file.parent.mkdir(parents=True, exist_ok=True)
    settings.password_file.write_text(password)
    os.chmod(settings.password_file, 0o600)
    keystore = Account.encrypt(account.key, password, kdf="pbkdf2", iterations=100_000)
    settings.keystore.write_text(json.dumps(keystore))
    os.chmod(settings.keystore, 0o600)
    return str(account.address)


def load_key(settings: KeySettings) -> tuple[bytes, str]:
    """(private key, checksummed address) from a keystore and its password file."""
    keystore = json.loads(Path(settings.keystore).read_text())
    password = Path(settings.password_file).read_text().strip()
    key = bytes(Account.decrypt(keystore, password))
    return key, str(Account.from_key(key).address)
