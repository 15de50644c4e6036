"""The SDK-metrics bridge turns buffered updates into Prometheus series: counters summed,
gauges last, durations bucketed (a stand-in buffer feeds it the updates the core would)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from prometheus_client import CollectorRegistry, generate_latest

from tollway.temporal_metrics import TemporalMetrics


@dataclass
class StandInMetric:
    name: str
    kind: int
    description: str = ""


@dataclass
class StandInUpdate:
    metric: StandInMetric
    value: float
    attributes: dict[str, Any] = field(default_factory=dict)


class StandInBuffer:
    def __init__(self) -> None:
        self.pending: list[StandInUpdate] = []

    def retrieve_updates(self) -> list[StandInUpdate]:
        taken, self.pending = self.pending, []
        return taken


def test_updates_become_prometheus_series() -> None:
    buffer = StandInBuffer()
    metrics = TemporalMetrics(cast(Any, buffer))
    registry = CollectorRegistry()
    registry.register(metrics)
    polls = StandInMetric("temporal_request", 0)
    slots = StandInMetric("temporal_worker_task_slots_available", 1)
    latency = StandInMetric("temporal_activity_execution_latency", 2)
    queue = {"task_queue": "q"}
    buffer.pending = [
        StandInUpdate(polls, 2, queue),
        StandInUpdate(polls, 3, queue),
        StandInUpdate(polls, 1, {"task_queue": "other"}),
        StandInUpdate(slots, 9, queue),
        StandInUpdate(slots, 7, queue),
        StandInUpdate(latency, 0.02, queue),
        StandInUpdate(latency, 3.0, queue),
        StandInUpdate(latency, 500.0, queue),
    ]
    text = generate_latest(registry).decode()
    assert 'temporal_request_total{task_queue="q"} 5.0' in text
    assert 'temporal_request_total{task_queue="other"} 1.0' in text
    assert 'temporal_worker_task_slots_available{task_queue="q"} 7.0' in text
    assert 'temporal_activity_execution_latency_bucket{le="0.025",task_queue="q"} 1.0' in text
    assert 'temporal_activity_execution_latency_bucket{le="5.0",task_queue="q"} 2.0' in text
    assert 'temporal_activity_execution_latency_bucket{le="+Inf",task_queue="q"} 3.0' in text
    assert 'temporal_activity_execution_latency_count{task_queue="q"} 3.0' in text
    assert 'temporal_activity_execution_latency_sum{task_queue="q"} 503.02' in text
    buffer.pending = [StandInUpdate(polls, 4, queue)]
    assert 'temporal_request_total{task_queue="q"} 9.0' in generate_latest(registry).decode()
