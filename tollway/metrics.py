"""Prometheus metrics (prefix `tollway_`), served on each API's `/metrics`."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "CAPABILITY_ERRORS",
    "CAPABILITY_LATENCY",
    "CAPABILITY_ORCHESTRATORS",
    "CAPABILITY_REQUESTS",
    "CONTAINER_HEALTHY",
    "CONTAINER_STARTS",
    "DEPOSIT",
    "DISCOVERY_ERRORS",
    "GPU_MEMORY_TOTAL",
    "GPU_MEMORY_USED",
    "GPU_UTILIZATION",
    "JOBS",
    "JOBS_ANSWERED_AGAIN",
    "MAX_FLOAT",
    "ORCHESTRATORS_KNOWN",
    "ORCHESTRATORS_SUSPENDED",
    "ORCHESTRATOR_DISPATCHES",
    "PAYMENTS_SEEN_AGAIN",
    "REDEMPTION_ERRORS",
    "REPLICAS",
    "REPLICA_FAILOVERS",
    "RESERVE",
    "REWARD_LAST_ROUND",
    "ROUND_CURRENT",
    "SENDER_FUNDS",
    "STREAMS_ACTIVE",
    "STREAMS_OVERDRAWN",
    "STREAMS_RELAYED",
    "STREAM_DEBITED",
    "STREAM_RELAY_DELAY",
    "STREAM_SEGMENTS",
    "STREAM_SWAPS",
    "TICKETS_RECEIVED",
    "TICKETS_REDEEMED",
    "TICKETS_REFUSED",
    "TICKETS_SENT",
    "TICKETS_WON",
    "TICKET_EV_RECEIVED",
    "TICKET_EV_SENT",
    "TICKET_VALUE_REDEEMED",
    "TICKET_VALUE_WON",
    "TRANSCODER_ACTIVE",
    "TRICKLE_BYTES",
    "TRICKLE_CHANNELS",
    "TRICKLE_SEGMENTS",
]

JOBS = Counter(
    "tollway_jobs_total",
    "Jobs answered: by the orchestrator (label: HTTP status) or settled by the gateway",
    ["role", "outcome"],
)
PAYMENTS_SEEN_AGAIN = Counter(
    "tollway_payments_seen_again_total",
    "Payments a job's retry brought again after they were credited with that job: not paid twice",
)
JOBS_ANSWERED_AGAIN = Counter(
    "tollway_jobs_answered_again_total",
    "Retries of a job id the orchestrator was running or had charged: joined or answered again, "
    "never run or charged twice",
)
TICKETS_SENT = Counter("tollway_tickets_sent_total", "PM tickets signed and sent by the gateway")
TICKET_EV_SENT = Counter("tollway_ticket_value_sent_wei_total", "Expected value of tickets sent")
TICKETS_RECEIVED = Counter("tollway_tickets_received_total", "PM tickets accepted")
TICKET_EV_RECEIVED = Counter("tollway_ticket_value_received_wei_total", "EV of tickets accepted")
TICKETS_REFUSED = Counter(
    "tollway_tickets_refused_total", "Payments refused, by reason", ["reason"]
)
TICKETS_WON = Counter("tollway_tickets_won_total", "Winning tickets received")
TICKET_VALUE_WON = Counter("tollway_ticket_value_won_wei_total", "Face value of winning tickets")
TICKETS_REDEEMED = Counter("tollway_tickets_redeemed_total", "Winning tickets redeemed on-chain")
TICKET_VALUE_REDEEMED = Counter(
    "tollway_ticket_value_redeemed_wei_total", "Value paid out for redeemed winning tickets"
)
REDEMPTION_ERRORS = Counter("tollway_redemption_errors_total", "Redemption attempts that failed")
DEPOSIT = Gauge("tollway_deposit_wei", "The gateway's TicketBroker deposit")
RESERVE = Gauge("tollway_reserve_wei", "The gateway's TicketBroker reserve")
MAX_FLOAT = Gauge(
    "tollway_max_float_wei", "How much face value the orchestrator extends a sender", ["sender"]
)
SENDER_FUNDS = Gauge(
    "tollway_sender_funds_wei",
    "A paying sender's deposit plus reserve, seen by the orchestrator",
    ["sender"],
)
DISCOVERY_ERRORS = Counter(
    "tollway_discovery_errors_total",
    "Discovery input ignored (a source, an orchestrator's info or token), by where and why",
    ["source", "reason"],
)
ORCHESTRATORS_KNOWN = Gauge(
    "tollway_orchestrators_known", "Orchestrators in the gateway's latest network snapshot"
)
CAPABILITY_ORCHESTRATORS = Gauge(
    "tollway_capability_orchestrators_usable",
    "Orchestrators in the gateway's snapshot offering a capability whose breaker is closed "
    "(0: no job of it can run)",
    ["capability"],
)
ROUND_CURRENT = Gauge(
    "tollway_round_current", "The chain's current round, as the orchestrator saw it"
)
REWARD_LAST_ROUND = Gauge(
    "tollway_reward_last_round", "The last round the orchestrator called reward() in"
)
TRANSCODER_ACTIVE = Gauge(
    "tollway_transcoder_active", "1 while the orchestrator is an active transcoder this round"
)
ORCHESTRATORS_SUSPENDED = Gauge(
    "tollway_orchestrators_suspended", "Orchestrators whose circuit breaker is open"
)
ORCHESTRATOR_DISPATCHES = Counter(
    "tollway_orchestrator_dispatches_total",
    "Jobs dispatched to an orchestrator, by outcome",
    ["orchestrator", "outcome"],
)
GPU_UTILIZATION = Gauge(
    "tollway_gpu_utilization_percent", "GPU utilisation NVML reports", ["gpu", "model"]
)
GPU_MEMORY_USED = Gauge("tollway_gpu_memory_used_bytes", "GPU memory in use", ["gpu", "model"])
GPU_MEMORY_TOTAL = Gauge("tollway_gpu_memory_total_bytes", "GPU memory", ["gpu", "model"])
CONTAINER_STARTS = Counter(
    "tollway_container_starts_total",
    "BYOC containers started (a replica's first start, then each restart)",
    ["capability"],
)
CONTAINER_HEALTHY = Gauge(
    "tollway_container_healthy",
    "1 while a BYOC container passes its health check, 0 once it fails one",
    ["capability", "container"],
)
REPLICAS = Gauge(
    "tollway_replicas",
    "Registered replicas of a capability: idle, busy, cold (cold-swap, not running), or "
    "quarantined after dropping a request",
    ["capability", "state"],
)
REPLICA_FAILOVERS = Counter(
    "tollway_replica_failovers_total",
    "Requests moved to another replica after theirs dropped them (connection lost)",
    ["capability"],
)
CAPABILITY_REQUESTS = Counter(
    "tollway_capability_requests_total",
    "Paid requests an orchestrator served per capability, by HTTP status",
    ["capability", "status"],
)
CAPABILITY_ERRORS = Counter(
    "tollway_capability_errors_total",
    "Requests a capability failed: timeout, unreachable, capacity, or the container's 5xx",
    ["capability", "reason"],
)
CAPABILITY_LATENCY = Histogram(
    "tollway_capability_request_seconds",
    "Time a capability's container took to answer, failovers included",
    ["capability"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
TRICKLE_CHANNELS = Gauge("tollway_trickle_channels", "Trickle channels the orchestrator holds open")
TRICKLE_SEGMENTS = Counter(
    "tollway_trickle_segments_total",
    "Trickle segments published to this server, and served whole to subscribers",
    ["direction"],
)
TRICKLE_BYTES = Counter(
    "tollway_trickle_bytes_total",
    "Bytes of trickle segments published to this server, and served to subscribers",
    ["direction"],
)
STREAMS_ACTIVE = Gauge("tollway_streams_active", "Live streams running on this orchestrator")
STREAMS_OVERDRAWN = Gauge(
    "tollway_streams_overdrawn",
    "Live streams on this orchestrator whose credit is negative (stopped at the next debit)",
)
STREAM_DEBITED = Counter(
    "tollway_stream_debited_wei_total",
    "Wei debited from senders' credit for the seconds their live streams ran",
    ["capability"],
)
STREAMS_RELAYED = Gauge(
    "tollway_gateway_streams_relayed", "Live streams this gateway API relays to an orchestrator"
)
STREAM_SEGMENTS = Counter(
    "tollway_stream_segments_total",
    "Stream segments the gateway relayed: in (client to orchestrator), out (back to the client)",
    ["direction"],
)
STREAM_RELAY_DELAY = Histogram(
    "tollway_stream_relay_delay_seconds",
    "From a client's segment's first byte at the gateway to its first byte sent to the "
    "orchestrator",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
STREAM_SWAPS = Counter(
    "tollway_stream_swaps_total",
    "Live streams moved off an orchestrator (to the next, or failed when none was left)",
    ["reason"],
)
