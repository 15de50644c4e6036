"""Writes deploy/grafana/dashboards/*.json from the panels listed here: run it after changing
them (`python deploy/grafana/build_dashboards.py`). Every query runs against a real Prometheus
scraping the embedded stack in tests/e2e/test_observability.py."""

from __future__ import annotations

import json
from pathlib import Path

Panel = tuple[str, str, list[tuple[str, str]]]
"""(title, unit, [(PromQL, legend)])."""

RATE = "5m"
DASHBOARDS: dict[str, tuple[str, list[Panel]]] = {
    "tollway-jobs": (
        "tollway: jobs",
        [
            ("Jobs settled by the gateway, by outcome", "ops", [
                ('sum by (outcome) (rate(tollway_jobs_total{role="gateway"}[5m]))', "{{outcome}}"),
            ]),
            ("Jobs answered by orchestrators, by status", "ops", [
                ('sum by (outcome) (rate(tollway_jobs_total{role="orchestrator"}[5m]))',
                 "{{outcome}}"),
            ]),
            ("Dispatches by orchestrator and outcome", "ops", [
                ("sum by (orchestrator, outcome) (rate(tollway_orchestrator_dispatches_total[5m]))",
                 "{{orchestrator}} {{outcome}}"),
            ]),
            ("Container latency by capability (p50, p95)", "s", [
                ("histogram_quantile(0.5, sum by (le, capability) "
                 "(rate(tollway_capability_request_seconds_bucket[5m])))", "p50 {{capability}}"),
                ("histogram_quantile(0.95, sum by (le, capability) "
                 "(rate(tollway_capability_request_seconds_bucket[5m])))", "p95 {{capability}}"),
            ]),
            ("Failures by capability and reason", "ops", [
                ("sum by (capability, reason) (rate(tollway_capability_errors_total[5m]))",
                 "{{capability}} {{reason}}"),
                ("sum by (source, reason) (rate(tollway_discovery_errors_total[5m]))",
                 "discovery {{source}} {{reason}}"),
            ]),
            ("Orchestrators: known, suspended, usable per capability", "short", [
                ("tollway_orchestrators_known", "known"),
                ("tollway_orchestrators_suspended", "suspended"),
                ("tollway_capability_orchestrators_usable", "usable {{capability}}"),
            ]),
            ("Workflow steps by activity (p95, Temporal SDK)", "s", [
                ("histogram_quantile(0.95, sum by (le, activity_type) "
                 "(rate(temporal_local_activity_execution_latency_bucket[5m])))",
                 "{{activity_type}} (local)"),
                ("histogram_quantile(0.95, sum by (le, activity_type) "
                 "(rate(temporal_activity_execution_latency_bucket[5m])))", "{{activity_type}}"),
            ]),
        ],
    ),
    "tollway-payments": (
        "tollway: payments",
        [
            ("Tickets sent, received, won, redeemed", "ops", [
                ("rate(tollway_tickets_sent_total[5m])", "sent"),
                ("rate(tollway_tickets_received_total[5m])", "received"),
                ("rate(tollway_tickets_won_total[5m])", "won"),
                ("rate(tollway_tickets_redeemed_total[5m])", "redeemed"),
            ]),
            ("Value: expected sent and received, won, redeemed (wei/s)", "short", [
                ("rate(tollway_ticket_value_sent_wei_total[5m])", "EV sent"),
                ("rate(tollway_ticket_value_received_wei_total[5m])", "EV received"),
                ("rate(tollway_ticket_value_won_wei_total[5m])", "face value won"),
                ("rate(tollway_ticket_value_redeemed_wei_total[5m])", "redeemed"),
            ]),
            ("Gateway deposit and reserve (wei)", "short", [
                ("tollway_deposit_wei", "deposit"),
                ("tollway_reserve_wei", "reserve"),
            ]),
            ("Senders' funds and max float seen by the orchestrator (wei)", "short", [
                ("tollway_sender_funds_wei", "funds {{sender}}"),
                ("tollway_max_float_wei", "max float {{sender}}"),
            ]),
            ("Payments refused, redemption errors", "ops", [
                ("sum by (reason) (rate(tollway_tickets_refused_total[5m]))", "refused {{reason}}"),
                ("rate(tollway_redemption_errors_total[5m])", "redemption errors"),
            ]),
            ("Rounds and reward", "short", [
                ("tollway_round_current", "current round"),
                ("tollway_reward_last_round", "last reward round"),
                ("tollway_transcoder_active", "active"),
            ]),
        ],
    ),
    "tollway-fleet": (
        "tollway: replicas and GPUs",
        [
            ("Replicas by capability and state", "short", [
                ("sum by (capability, state) (tollway_replicas)", "{{capability}} {{state}}"),
            ]),
            ("Container starts and failovers", "ops", [
                ("sum by (capability) (rate(tollway_container_starts_total[15m]))",
                 "starts {{capability}}"),
                ("sum by (capability) (rate(tollway_replica_failovers_total[5m]))",
                 "failovers {{capability}}"),
            ]),
            ("Containers healthy", "short", [
                ("tollway_container_healthy", "{{capability}} {{container}}"),
            ]),
            ("Requests by capability and status", "ops", [
                ("sum by (capability, status) (rate(tollway_capability_requests_total[5m]))",
                 "{{capability}} {{status}}"),
            ]),
            ("GPU utilisation", "percent", [
                ("tollway_gpu_utilization_percent", "{{gpu}} {{model}}"),
            ]),
            ("GPU memory", "bytes", [
                ("tollway_gpu_memory_used_bytes", "used {{gpu}}"),
                ("tollway_gpu_memory_total_bytes", "total {{gpu}}"),
            ]),
        ],
    ),
    "tollway-streams": (
        "tollway: live streams",
        [
            ("Streams running and relayed", "short", [
                ("tollway_streams_active", "running on the orchestrator"),
                ("tollway_streams_overdrawn", "overdrawn"),
                ("tollway_gateway_streams_relayed", "relayed by the gateway"),
            ]),
            ("Stream swaps by reason", "ops", [
                ("sum by (reason) (rate(tollway_stream_swaps_total[10m]))", "{{reason}}"),
            ]),
            ("Segments relayed and served", "ops", [
                ("sum by (direction) (rate(tollway_stream_segments_total[5m]))",
                 "gateway {{direction}}"),
                ("sum by (direction) (rate(tollway_trickle_segments_total[5m]))",
                 "trickle {{direction}}"),
            ]),
            ("Relay delay (p95)", "s", [
                ("histogram_quantile(0.95, sum by (le) "
                 "(rate(tollway_stream_relay_delay_seconds_bucket[5m])))", "p95"),
            ]),
            ("Stream debits (wei/s) and trickle bytes", "short", [
                ("sum by (capability) (rate(tollway_stream_debited_wei_total[5m]))",
                 "debited {{capability}}"),
                ("sum by (direction) (rate(tollway_trickle_bytes_total[5m]))",
                 "bytes {{direction}}"),
            ]),
            ("Trickle channels open", "short", [("tollway_trickle_channels", "channels")]),
        ],
    ),
}  # fmt: skip


def dashboard(uid: str, title: str, panels: list[Panel]) -> dict[str, object]:
    datasource = {"type": "prometheus", "uid": "${datasource}"}
    return {
        "uid": uid,
        "title": title,
        "tags": ["tollway"],
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Data source",
                }
            ]
        },
        "panels": [
            {
                "id": n + 1,
                "type": "timeseries",
                "title": panel_title,
                "datasource": datasource,
                "gridPos": {"h": 8, "w": 12, "x": 12 * (n % 2), "y": 8 * (n // 2)},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [
                    {
                        "refId": chr(ord("A") + i),
                        "datasource": datasource,
                        "expr": expr,
                        "legendFormat": legend,
                    }
                    for i, (expr, legend) in enumerate(targets)
                ],
            }
            for n, (panel_title, unit, targets) in enumerate(panels)
        ],
    }  # fmt: skip


def main() -> None:
    out = Path(__file__).with_name("dashboards")
    out.mkdir(exist_ok=True)
    for uid, (title, panels) in DASHBOARDS.items():
        text = json.dumps(dashboard(uid, title, panels), indent=2) + "\n"
        (out / f"{uid}.json").write_text(text)


if __name__ == "__main__":
    main()
