"""A role's Temporal TLS and API key settings become the right `Client.connect` arguments."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from tollway.config import GatewaySettings, GpuWorkerSettings, OrchestratorSettings
from tollway.temporal import TemporalAuth, connect_options

KEY = {"keystore": "/k/keystore.json", "password_file": "/k/password"}


def test_no_auth_is_plaintext() -> None:
    assert connect_options(None) == {"tls": False, "api_key": None}
    assert connect_options(TemporalAuth()) == {"tls": False, "api_key": None}


def test_tls_alone_uses_system_roots() -> None:
    assert connect_options(TemporalAuth(tls=True)) == {"tls": True, "api_key": None}


def test_api_key_implies_tls(tmp_path: Path) -> None:
    assert connect_options(TemporalAuth(api_key="k1")) == {"tls": True, "api_key": "k1"}
    key_file = tmp_path / "api-key"
    key_file.write_text("k2\n")
    assert connect_options(TemporalAuth(api_key_file=key_file)) == {"tls": True, "api_key": "k2"}


def test_mtls_reads_the_files(tmp_path: Path) -> None:
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_bytes(f"-- {name} --".encode())
    auth = TemporalAuth(
        ca_file=tmp_path / "ca.pem",
        cert_file=tmp_path / "client.pem",
        key_file=tmp_path / "client.key",
        server_name="temporal.internal",
    )
    options = connect_options(auth)
    assert options["api_key"] is None
    tls = options["tls"]
    assert isinstance(tls, TLSConfig)
    assert tls.server_root_ca_cert == b"-- ca.pem --"
    assert tls.client_cert == b"-- client.pem --"
    assert tls.client_private_key == b"-- client.key --"
    assert tls.domain == "temporal.internal"


def test_a_certificate_needs_its_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="key_file"):
        connect_options(TemporalAuth(cert_file=tmp_path / "client.pem"))


def test_each_role_reads_auth_from_its_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key_file = tmp_path / "api-key"
    key_file.write_text("secret-key")
    monkeypatch.setenv("TOLLWAY_GATEWAY_TEMPORAL_ADDRESS", "ns.acct.tmprl.cloud:7233")
    monkeypatch.setenv("TOLLWAY_GATEWAY_TEMPORAL_AUTH__API_KEY_FILE", str(key_file))
    monkeypatch.setenv("TOLLWAY_ORCH_TEMPORAL_AUTH__TLS", "true")
    monkeypatch.setenv("TOLLWAY_GPU_TEMPORAL_AUTH__API_KEY", "gpu-key")

    gateway = GatewaySettings(key=KEY)
    assert gateway.temporal_address == "ns.acct.tmprl.cloud:7233"
    assert connect_options(gateway.temporal_auth) == {"tls": True, "api_key": "secret-key"}
    orchestrator = OrchestratorSettings(secret="s" * 16, key=KEY)
    assert connect_options(orchestrator.temporal_auth) == {"tls": True, "api_key": None}
    gpu = GpuWorkerSettings()
    assert connect_options(gpu.temporal_auth) == {"tls": True, "api_key": "gpu-key"}
    # The key never shows in a settings dump or a log line.
    assert "gpu-key" not in repr(gpu)
