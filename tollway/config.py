"""Settings for each role, read from a JSON config file (written by `tollway up`) and the
environment (`TOLLWAY_<ROLE>_<FIELD>`), environment winning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from tollway.protocol.info import Gpu
from tollway.temporal import TemporalAuth

__all__ = [
    "ORCHESTRATOR_NAMESPACE",
    "ORCHESTRATOR_TASK_QUEUE",
    "ChainSettings",
    "GatewaySettings",
    "GpuWorkerSettings",
    "KeySettings",
    "MiB",
    "OrchestratorSettings",
    "PriceOverride",
    "PricingSettings",
    "RoleSettings",
    "SelectionPolicy",
    "TenantSettings",
    "load_settings",
]

GATEWAY_NAMESPACE = "gateway"
ORCHESTRATOR_NAMESPACE = "orchestrator"
GATEWAY_TASK_QUEUE = "tollway-gateway"
ORCHESTRATOR_TASK_QUEUE = "tollway-orchestrator"

MiB = 1024 * 1024


class PriceOverride(BaseModel):
    """A price for one gateway (go-livepeer's `-pricePerGateway`), for one capability or "*"."""

    gateway: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    capability: str = "*"
    price_per_unit: int = Field(ge=0)
    price_scaling: int = Field(default=1, ge=1)
    currency: Literal["wei", "eth", "usd"] = "wei"


class PricingSettings(BaseModel):
    usd_per_eth: float | None = Field(default=None, gt=0)
    price_overrides: list[PriceOverride] = []
    surge_multiplier: float = Field(default=1.0, ge=1.0)
    surge_load_threshold: float = Field(default=0.8, gt=0, le=1)
    auto_adjust_price: bool = True
    quote_ttl_seconds: int = Field(default=60, ge=1)


class ChainSettings(BaseModel):
    rpc_url: str = "http://127.0.0.1:8545"
    fallback_rpc_urls: list[str] = []
    """Tried in turn when the current RPC URL stops answering."""
    ticket_broker: str = ""
    rounds_manager: str = ""


class KeySettings(BaseModel):
    keystore: Path
    password_file: Path


class RoleSettings(BaseSettings):
    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)


class OrchestratorSettings(RoleSettings):
    model_config = SettingsConfigDict(env_prefix="TOLLWAY_ORCH_", env_nested_delimiter="__")

    host: str = "127.0.0.1"
    port: int = 8935
    service_addr: str = "http://127.0.0.1:8935"
    region: str = ""
    hardware: list[Gpu] = []
    """GPUs advertised to gateways (the GPU worker reports what NVML finds)."""
    secret: str = Field(min_length=16)
    job_answer_ttl_seconds: float = Field(default=600.0, gt=0)
    """How long a charged job's answer is kept, so a retry of its job id gets it again."""
    capability_hosts: list[str] = []
    """Hosts, IPs or CIDRs a registered capability may point at beside loopback and the GPU
    workers' own hosts and container networks (which they report); `"*"`: any host. Never a
    link-local address, the chain RPC, Temporal or this API."""
    data_dir: Path = Path(".tollway/orchestrator")
    key: KeySettings
    chain: ChainSettings = ChainSettings()
    temporal_address: str = "127.0.0.1:7233"
    temporal_auth: TemporalAuth = TemporalAuth()
    """TLS, a client certificate or an API key for a Temporal cluster (deploy/README.md)."""
    namespace: str = ORCHESTRATOR_NAMESPACE
    task_queue: str = ORCHESTRATOR_TASK_QUEUE
    # Ticket economics: EV per ticket; face value from the gas price unless
    # fixed (the devnet fixes it to the EV so every ticket wins).
    ticket_ev_wei: int = 8_000_000_000
    ticket_face_value_wei: int | None = None
    redeem_gas: int = 1_200_000
    tx_cost_multiplier: int = 100
    ev_multiplier: int = 100
    max_face_value_wei: int | None = None
    params_expiration_blocks: int = 40
    min_credit_seconds: int = 60
    capacity_wait_seconds: float = Field(default=5.0, ge=0)
    """How long a request waits for a busy capability's slot before a 503."""
    capacity_queue: int = Field(default=32, ge=0)
    """Requests that may wait per capability; more get a 503 at once."""
    cold_start_wait_seconds: float = Field(default=60.0, ge=0)
    """How long a request waits for a cold-swap replica it woke to start and register."""
    worker_missed_reports: int = Field(default=4, ge=1)
    """A GPU worker that missed this many of its reports is lost: it is no longer listed for
    placement, and the fleet places its replicas elsewhere."""
    replica_quarantine_seconds: float = Field(default=15.0, ge=0)
    """How long a replica that dropped a request gets no new work (its ContainerWorkflow
    replaces a dead one within about two health checks)."""
    reward_every_seconds: float = 60.0
    """How often the reward schedule looks at the round (several times per round)."""
    initialize_rounds: bool = True
    max_body_bytes: int = 64 * MiB
    body_read_timeout_seconds: float = Field(default=30.0, gt=0)
    """A client whose body has not all arrived by then gets 408."""
    worker_metrics_port: int | None = None
    worker_metrics_host: str = "127.0.0.1"
    """Where the worker's metrics listen: `0.0.0.0` where Prometheus scrapes it from another
    host or pod."""
    trickle_idle_seconds: float = Field(default=300.0, gt=0)
    """A trickle channel nothing was written to for this long is closed."""
    trickle_max_segment_bytes: int = Field(default=32 * MiB, gt=0)
    """The most one trickle segment may hold (413 beyond)."""
    trickle_url_for_workers: str | None = None
    """Where replicas reach this orchestrator's trickle server (default: `service_addr`)."""
    stream_debit_seconds: float = Field(default=23.0, gt=0)
    """How often a live stream is debited for the seconds it ran (go-livepeer: 23 s)."""
    pricing: PricingSettings = PricingSettings()
    temporal_ui_url: str | None = None
    """The Temporal Web UI (e.g. `http://127.0.0.1:8233`): `/console` links workflows to it."""


SelectionPolicy = Literal["cheapest", "fastest", "balanced"]


class TenantSettings(BaseModel):
    """A customer of the gateway: its API keys, selection policy and price caps."""

    api_key_sha256: list[str] = []
    policy: SelectionPolicy | None = None
    max_price_wei_per_second: dict[str, int] = {}
    """Caps by capability name; "*" applies to every capability."""


class GatewaySettings(RoleSettings):
    model_config = SettingsConfigDict(env_prefix="TOLLWAY_GATEWAY_", env_nested_delimiter="__")

    host: str = "127.0.0.1"
    port: int = 9935
    data_dir: Path = Path(".tollway/gateway")
    key: KeySettings
    temporal_address: str = "127.0.0.1:7233"
    temporal_auth: TemporalAuth = TemporalAuth()
    """TLS, a client certificate or an API key for a Temporal cluster (deploy/README.md)."""
    namespace: str = GATEWAY_NAMESPACE
    task_queue: str = GATEWAY_TASK_QUEUE
    artifacts_dir: Path | None = None
    """Where job inputs and outputs are kept (default `<data_dir>/artifacts`): a volume every
    gateway API and worker shares (NFS, a ReadWriteMany volume) where several hosts run them."""
    database_url: str | None = None
    """The gateway's database (tenants, keys, idempotency records): `postgresql://...` where
    several hosts share it, else the SQLite file `<data_dir>/gateway.db`."""
    api_key_sha256: list[str] = []
    """Keys of the "default" tenant, added to the database at start (scopes: `tenant_scopes`)."""
    tenants: dict[str, TenantSettings] = {}
    output_retention_seconds: float = Field(default=86400.0, gt=0)
    """How long a finished job's input and output are kept; then they are removed, its output
    answers 410 and its record stays."""
    retention_sweep_seconds: float = Field(default=60.0, gt=0)
    """How often the gateway worker removes expired job data and webhook log entries."""
    webhook_log_retention_seconds: float = Field(default=30 * 86400.0, gt=0)
    """How long a finished webhook delivery (delivered, or failed for good) and its attempts
    stay in the delivery log and can be replayed; then they are removed."""
    rate_limit_storage: str = "memory://"
    """Where keys' request counts live (the `limits` package's storage URI): `memory://`
    counts per API process; `redis://host:port` shares them between processes."""
    rate_limit_create_per_minute: int = Field(default=600, ge=1)
    """A key's job and stream submissions a minute (a key's `limits` may differ)."""
    rate_limit_read_per_minute: int = Field(default=3000, ge=1)
    """A key's other requests a minute."""
    jobs_in_flight_per_key: int = Field(default=100, ge=1)
    """A key's jobs running at once; more get 429 until one ends."""
    webhook_retry_seconds: list[float] = [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0]
    """The waits between a webhook delivery's attempts: after the first, at once, a retry
    after each (about 28 hours in all); then it is `failed` until replayed."""
    webhook_timeout_seconds: float = Field(default=15.0, gt=0, le=50)
    """How long one attempt waits for the receiver's answer."""
    webhook_allow_private_targets: bool = False
    """Send webhooks to private, loopback and link-local addresses too (a gateway whose
    tenants are its own services); otherwise such URLs are refused."""
    webhook_dispatch_seconds: float = Field(default=0.5, gt=0)
    """How often a gateway worker looks for new deliveries to start."""
    livepeer_routes_need_key: bool = False
    """Require a tenant's API key (`Authorization: Bearer`) on go-livepeer's `/process/*`
    routes too; without it they are open, as go-livepeer's are, and a key sent is still used."""
    token_timeout_seconds: float = 2.0
    # Discovery: every source's URLs are merged into the network snapshot.
    orchestrators: list[str] = []
    orchestrator_webhook_url: str | None = None
    discover_from_chain: bool = False
    """List the chain's active transcoders (their ServiceRegistry URIs); needs `chain`."""
    network_refresh_seconds: float = 30.0
    # Selection and failover (tollway.market.selection, tollway.market.breaker).
    selection_policy: SelectionPolicy = "balanced"
    min_orchestrator_version: str | None = None
    token_fanout: int = Field(default=4, ge=1, le=32)
    """How many drawn orchestrators are asked for a job token at once."""
    token_reuse_seconds: float = Field(default=5.0, ge=0, le=60)
    """A job token (price, ticket params, credit) is reused this long by later jobs, unless a
    dispatch on it fails first; 0 asks for a token every job."""
    max_dispatch_attempts: int = Field(default=4, ge=1, le=20)
    api_hosts_worker: bool = True
    """The API process hosts a job worker, so the jobs it starts run there at once (eager
    start) instead of waiting for a gateway worker's poll."""
    capability_max_price_wei_per_second: dict[str, int] = {}
    breaker_threshold: int = Field(default=3, ge=1)
    breaker_cooldown_seconds: float = Field(default=5.0, gt=0)
    breaker_max_cooldown_seconds: float = Field(default=300.0, gt=0)
    usd_per_eth: float | None = None
    """For the fiat view of prices in /v1/marketplace."""
    # Spending limits: what the gateway signs whatever orchestrators ask.
    max_price_wei_per_second: int = 10**15
    max_price_wei_per_request: int = 10**16
    max_price_wei_per_frame: int = 10**14
    require_signed_quotes: bool = False
    """Refuse tokens without a valid signed quote (plain go-livepeer orchestrators send none)."""
    max_ticket_ev_wei: int = 3_000_000_000_000
    max_total_ev_wei: int = 20_000_000_000_000
    max_face_value_wei: int = 10**17
    deposit_multiplier: int = 1
    chain: ChainSettings | None = None
    """When set, the gateway checks its own TicketBroker funds before signing tickets."""
    max_body_bytes: int = 64 * MiB
    body_read_timeout_seconds: float = Field(default=30.0, gt=0)
    """A client whose body has not all arrived by then gets 408."""
    worker_metrics_port: int | None = None
    worker_metrics_host: str = "127.0.0.1"
    """Where the worker's metrics listen: `0.0.0.0` where Prometheus scrapes it from another
    host or pod."""
    api_instance: str = Field(default="api-0", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    """This gateway API process's name: the streams whose channels it holds are relayed by its
    own task queue (`relay_task_queue`); a restarted process takes the same name back."""
    trickle_idle_seconds: float = Field(default=300.0, gt=0)
    """A client's trickle channel nothing was written to for this long is closed."""
    trickle_max_segment_bytes: int = Field(default=32 * MiB, gt=0)
    """The most one segment a client publishes may hold (413 beyond)."""
    max_stream_swaps: int = Field(default=3, ge=0)
    """How often a stream may move to another orchestrator before it fails."""
    stream_payment_seconds: float = Field(default=50.0, gt=0)
    """How often a running stream pays its orchestrator for the next 70 s (go-livepeer: 50 s)."""
    stream_event_silence_seconds: float = Field(default=30.0, gt=0)
    """A stream whose container sends no event (pytrickle sends a heartbeat every 10 s) for
    this long moves to another orchestrator."""
    stream_client_idle_seconds: float = Field(default=60.0, gt=0)
    """A stream whose client publishes nothing for this long is stopped: the client went away."""
    temporal_ui_url: str | None = None
    """The Temporal Web UI (e.g. `http://127.0.0.1:8233`): `/console` links jobs and streams to
    their workflows there."""

    @property
    def relay_task_queue(self) -> str:
        return f"{self.task_queue}-relay-{self.api_instance}"

    @property
    def artifacts(self) -> Path:
        return self.artifacts_dir or self.data_dir / "artifacts"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'gateway.db').absolute()}"


class GpuWorkerSettings(RoleSettings):
    model_config = SettingsConfigDict(env_prefix="TOLLWAY_GPU_", env_nested_delimiter="__")

    worker_id: str = "gpu-0"
    temporal_address: str = "127.0.0.1:7233"
    temporal_auth: TemporalAuth = TemporalAuth()
    """TLS, a client certificate or an API key for a Temporal cluster (deploy/README.md)."""
    namespace: str = ORCHESTRATOR_NAMESPACE
    stack_id: str = "default"
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    """Where the metrics listen: `0.0.0.0` where Prometheus scrapes from another host or pod."""
    orchestrator_url: str | None = None
    """Where to report this worker's GPUs (placement, /v1/info); None: report nowhere."""
    orchestrator_secret: str = ""
    report_every_seconds: float = Field(default=15.0, gt=0)
    data_dir: Path = Path(".tollway/gpu-worker")
    """Where Triton replicas keep their records and logs (their pytriton workspaces live in the
    system temp directory: Unix socket paths are short)."""

    @property
    def triton_dir(self) -> Path:
        return self.data_dir / "triton"

    @property
    def task_queue(self) -> str:
        return f"tollway-gpu-{self.worker_id}"


S = TypeVar("S", bound=RoleSettings)


def load_settings(cls: type[S], config_file: Path | None) -> S:
    """`cls` from a JSON file when given, with environment variables overriding it."""
    data: dict[str, Any] = json.loads(config_file.read_text()) if config_file else {}
    return cls(**data)
